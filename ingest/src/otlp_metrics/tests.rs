//! Translation tests on hand-built requests, one rule at a time, and the JSON/protobuf twins.

use std::collections::BTreeMap;

use pharos_proto::otlp::collector::metrics::v1::ExportMetricsServiceRequest;
use pharos_proto::otlp::common::v1::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList, any_value::Value,
};
use pharos_proto::otlp::metrics::v1::{
    AggregationTemporality, Exemplar, ExponentialHistogram, ExponentialHistogramDataPoint, Gauge, Histogram,
    HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum, Summary, SummaryDataPoint,
    exemplar, exponential_histogram_data_point::Buckets, metric::Data, number_data_point,
    summary_data_point::ValueAtQuantile,
};
use pharos_proto::otlp::resource::v1::Resource;
use pharos_storage::tsdb::{LabelLimits, MetricMetadata, MetricType, STALE_NAN_BITS, Sample, is_stale_nan};
use prost::Message;

use super::translate::Translation;
use super::{decode_json, decode_protobuf, translate};

/// 2018-12-13T14:51:00.3Z, the OTLP examples' timestamp.
const T0_NS: u64 = 1_544_712_660_300_000_000;
const T0_MS: i64 = 1_544_712_660_300;
const CUMULATIVE: i32 = AggregationTemporality::Cumulative as i32;
const DELTA: i32 = AggregationTemporality::Delta as i32;

fn string(value: &str) -> Value {
    Value::StringValue(value.to_owned())
}

fn kv(key: &str, value: Value) -> KeyValue {
    KeyValue { key: key.to_owned(), value: Some(AnyValue { value: Some(value) }), ..Default::default() }
}

fn service_resource(extra: Vec<KeyValue>) -> Vec<KeyValue> {
    let mut attributes = vec![kv("service.name", string("checkout")), kv("service.instance.id", string("pod-7"))];
    attributes.extend(extra);
    attributes
}

fn request_with(
    resource: Vec<KeyValue>,
    scope: Option<InstrumentationScope>,
    metrics: Vec<Metric>,
) -> ExportMetricsServiceRequest {
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(Resource { attributes: resource, ..Default::default() }),
            scope_metrics: vec![ScopeMetrics { scope, metrics, schema_url: String::new() }],
            schema_url: String::new(),
        }],
    }
}

/// A request with the standard resource (`job="checkout"`, `instance="pod-7"`), no scope.
fn request(metrics: Vec<Metric>) -> ExportMetricsServiceRequest {
    request_with(service_resource(vec![]), None, metrics)
}

fn metric(name: &str, unit: &str, data: Data) -> Metric {
    Metric {
        name: name.to_owned(),
        description: format!("{name} help"),
        unit: unit.to_owned(),
        data: Some(data),
        ..Default::default()
    }
}

fn number(time_ns: u64, value: f64, attributes: Vec<KeyValue>) -> NumberDataPoint {
    NumberDataPoint {
        attributes,
        time_unix_nano: time_ns,
        value: Some(number_data_point::Value::AsDouble(value)),
        ..Default::default()
    }
}

fn gauge(name: &str, unit: &str, points: Vec<NumberDataPoint>) -> Metric {
    metric(name, unit, Data::Gauge(Gauge { data_points: points }))
}

fn sum(name: &str, unit: &str, temporality: i32, is_monotonic: bool, points: Vec<NumberDataPoint>) -> Metric {
    metric(name, unit, Data::Sum(Sum { data_points: points, aggregation_temporality: temporality, is_monotonic }))
}

fn histogram_point(bounds: &[f64], counts: &[u64], sum: Option<f64>) -> HistogramDataPoint {
    HistogramDataPoint {
        time_unix_nano: T0_NS,
        count: counts.iter().sum(),
        sum,
        bucket_counts: counts.to_vec(),
        explicit_bounds: bounds.to_vec(),
        ..Default::default()
    }
}

fn histogram(name: &str, unit: &str, temporality: i32, points: Vec<HistogramDataPoint>) -> Metric {
    metric(name, unit, Data::Histogram(Histogram { data_points: points, aggregation_temporality: temporality }))
}

/// Series of a translation keyed by their printed label set, e.g. `up{job="x"}`.
fn series(translation: &Translation) -> BTreeMap<String, Vec<Sample>> {
    translation.batch.series.iter().map(|s| (s.labels.to_string(), s.samples.clone())).collect()
}

fn values(translation: &Translation, printed: &str) -> Vec<f64> {
    match series(translation).get(printed) {
        Some(samples) => samples.iter().map(|s| s.v).collect(),
        None => panic!("no series {printed}; have {:#?}", series(translation).keys().collect::<Vec<_>>()),
    }
}

fn metadata(translation: &Translation, family: &str) -> MetricMetadata {
    match translation.batch.metadata.iter().find(|m| m.metric_family_name == family) {
        Some(found) => found.clone(),
        None => panic!("no metadata for {family}; have {:?}", translation.batch.metadata),
    }
}

fn run(request: &ExportMetricsServiceRequest) -> Translation {
    translate(request, &LabelLimits::default())
}

#[test]
fn histogram_becomes_bucket_sum_and_count() {
    let point = histogram_point(&[0.005, 0.1, 1.0, 2.5], &[1, 2, 3, 0, 4], Some(12.5));
    let translation = run(&request(vec![histogram("http.server.request.duration", "s", CUMULATIVE, vec![point])]));
    assert_eq!(translation.rejected_points, 0);
    assert_eq!(translation.error_message, None);
    let base = r#"instance="pod-7", job="checkout""#;
    let bucket = |le: &str| format!("http_server_request_duration_seconds_bucket{{{base}, le={le:?}}}");
    assert_eq!(values(&translation, &bucket("0.005")), vec![1.0]);
    assert_eq!(values(&translation, &bucket("0.1")), vec![3.0]);
    assert_eq!(values(&translation, &bucket("1")), vec![6.0]);
    assert_eq!(values(&translation, &bucket("2.5")), vec![6.0]);
    assert_eq!(values(&translation, &bucket("+Inf")), vec![10.0]);
    assert_eq!(values(&translation, &format!("http_server_request_duration_seconds_sum{{{base}}}")), vec![12.5]);
    assert_eq!(values(&translation, &format!("http_server_request_duration_seconds_count{{{base}}}")), vec![10.0]);
    assert_eq!(translation.batch.series.len(), 7);
    assert!(translation.batch.series.iter().all(|s| s.samples[0].t == T0_MS), "ns → ms");
    assert_eq!(
        metadata(&translation, "http_server_request_duration_seconds"),
        MetricMetadata {
            metric_family_name: "http_server_request_duration_seconds".into(),
            kind: MetricType::Histogram,
            help: "http.server.request.duration help".into(),
            unit: "seconds".into(),
        }
    );
}

#[test]
fn histogram_without_sum_has_no_sum_series() {
    let translation =
        run(&request(vec![histogram("latency", "ms", CUMULATIVE, vec![histogram_point(&[10.0], &[1, 1], None)])]));
    let names: Vec<String> =
        translation.batch.series.iter().map(|s| s.labels.metric_name().unwrap_or_default().to_owned()).collect();
    assert!(names.iter().all(|n| n != "latency_milliseconds_sum"), "{names:?}");
    assert!(names.contains(&"latency_milliseconds_count".to_owned()));
    assert_eq!(names.len(), 3, "count, le=10, le=+Inf");
}

#[test]
fn bucket_bounds_are_formatted_like_prometheus() {
    let bounds = [1e-9, 0.1, 1.0, 1000.0, 1e21];
    let point = histogram_point(&bounds, &[1, 1, 1, 1, 1, 1], None);
    let translation = run(&request(vec![histogram("size", "", CUMULATIVE, vec![point])]));
    let mut les: Vec<String> =
        translation.batch.series.iter().filter_map(|s| s.labels.get("le").map(str::to_owned)).collect();
    les.sort();
    assert_eq!(les, ["+Inf", "0.000000001", "0.1", "1", "1000", "1000000000000000000000"]);
}

#[test]
fn monotonic_cumulative_sum_is_a_total_counter() {
    let point = NumberDataPoint {
        time_unix_nano: T0_NS,
        value: Some(number_data_point::Value::AsInt(1027)),
        ..Default::default()
    };
    let translation = run(&request(vec![sum("requests", "{request}", CUMULATIVE, true, vec![point])]));
    assert_eq!(values(&translation, r#"requests_total{instance="pod-7", job="checkout"}"#), vec![1027.0]);
    let meta = metadata(&translation, "requests_total");
    assert_eq!((meta.kind, meta.unit.as_str()), (MetricType::Counter, ""));
}

#[test]
fn non_monotonic_sum_is_a_gauge_without_total() {
    let translation =
        run(&request(vec![sum("system.memory.usage", "By", CUMULATIVE, false, vec![number(T0_NS, 4096.0, vec![])])]));
    assert_eq!(values(&translation, r#"system_memory_usage_bytes{instance="pod-7", job="checkout"}"#), vec![4096.0]);
    let meta = metadata(&translation, "system_memory_usage_bytes");
    assert_eq!((meta.kind, meta.unit.as_str()), (MetricType::Gauge, "bytes"));
}

#[test]
fn gauge_with_unit_one_is_a_ratio() {
    let translation = run(&request(vec![gauge("system.cpu.utilization", "1", vec![number(T0_NS, 0.25, vec![])])]));
    assert_eq!(values(&translation, r#"system_cpu_utilization_ratio{instance="pod-7", job="checkout"}"#), vec![0.25]);
    assert_eq!(metadata(&translation, "system_cpu_utilization_ratio").kind, MetricType::Gauge);
}

#[test]
fn attributes_become_sanitised_labels_and_collisions_join() {
    let attributes = vec![
        kv("http.method", string("GET")),
        kv("http_method", string("POST")),
        kv("2xx", Value::BoolValue(true)),
        kv("_private", Value::IntValue(-3)),
        kv("ratio", Value::DoubleValue(0.5)),
        kv(
            "tags",
            Value::ArrayValue(ArrayValue {
                values: vec![AnyValue { value: Some(string("a")) }, AnyValue { value: Some(Value::IntValue(1)) }],
            }),
        ),
        kv(
            "obj",
            Value::KvlistValue(KeyValueList { values: vec![kv("b", Value::BoolValue(false)), kv("a", string("x"))] }),
        ),
        kv("empty", string("")),
    ];
    let translation = run(&request(vec![gauge("g", "", vec![number(T0_NS, 1.0, attributes)])]));
    let labels = &translation.batch.series[0].labels;
    assert_eq!(labels.get("http_method"), Some("GET;POST"), "joined in key order: `.` sorts before `_`");
    assert_eq!(labels.get("key_2xx"), Some("true"));
    assert_eq!(labels.get("key_private"), Some("-3"));
    assert_eq!(labels.get("ratio"), Some("0.5"));
    assert_eq!(labels.get("tags"), Some(r#"["a",1]"#));
    assert_eq!(labels.get("obj"), Some(r#"{"a":"x","b":false}"#));
    assert_eq!(labels.get("empty"), None, "an empty value is an absent label");
}

#[test]
fn job_and_instance_come_from_the_resource_and_override_attributes() {
    let resource = vec![
        kv("service.namespace", string("shop")),
        kv("service.name", string("cart")),
        kv("service.instance.id", string("10.0.0.1:8080")),
    ];
    let point = number(T0_NS, 1.0, vec![kv("job", string("spoofed"))]);
    let translation = run(&request_with(resource, None, vec![gauge("up", "", vec![point])]));
    assert_eq!(values(&translation, r#"up{instance="10.0.0.1:8080", job="shop/cart"}"#), vec![1.0]);
    assert_eq!(translation.batch.series.len(), 1, "only identifying attributes: no target_info");
}

#[test]
fn target_info_carries_the_other_resource_attributes() {
    let resource = service_resource(vec![kv("host.name", string("node-3")), kv("k8s.pod.uid", string("abc"))]);
    let points = vec![number(T0_NS, 1.0, vec![]), number(T0_NS + 360_000_000_000, 2.0, vec![])]; // +6 min
    let translation = run(&request_with(resource, None, vec![gauge("up", "", points)]));
    let printed = r#"target_info{host_name="node-3", instance="pod-7", job="checkout", k8s_pod_uid="abc"}"#;
    let samples = &series(&translation)[printed];
    let times: Vec<i64> = samples.iter().map(|s| s.t - T0_MS).collect();
    assert_eq!(times, vec![0, 150_000, 300_000, 360_000], "every 2.5 min, then the latest point");
    assert!(samples.iter().all(|s| s.v == 1.0));
    let meta = metadata(&translation, "target_info");
    assert_eq!((meta.kind, meta.help.as_str()), (MetricType::Gauge, "Target metadata"));
    // The series of the metric itself does not get the resource attributes.
    assert_eq!(values(&translation, r#"up{instance="pod-7", job="checkout"}"#), vec![1.0, 2.0]);
}

#[test]
fn target_info_needs_job_or_instance_and_is_bounded() {
    let anonymous = request_with(
        vec![kv("host.name", string("node-3"))],
        None,
        vec![gauge("up", "", vec![number(T0_NS, 1.0, vec![])])],
    );
    assert!(run(&anonymous).batch.series.iter().all(|s| s.labels.metric_name() != Some("target_info")));

    // A point at time 0 next to a current one: at most 577 samples, ending at the latest point.
    let points = vec![number(0, 1.0, vec![]), number(T0_NS, 1.0, vec![])];
    let resource = service_resource(vec![kv("host.name", string("node-3"))]);
    let translation = run(&request_with(resource, None, vec![gauge("up", "", points)]));
    let target = translation.batch.series.iter().find(|s| s.labels.metric_name() == Some("target_info"));
    let samples = &target.map(|s| s.samples.clone()).unwrap_or_default();
    assert_eq!(samples.len(), 577);
    assert_eq!(samples.last().map(|s| s.t), Some(T0_MS));
    assert!(samples.windows(2).all(|w| w[0].t < w[1].t));
}

#[test]
fn scope_becomes_otel_scope_labels() {
    let scope = InstrumentationScope {
        name: "io.opentelemetry.runtime".into(),
        version: "1.2.0".into(),
        attributes: vec![kv("lib.kind", string("auto"))],
        ..Default::default()
    };
    let translation = run(&request_with(
        service_resource(vec![]),
        Some(scope),
        vec![gauge("g", "", vec![number(T0_NS, 1.0, vec![])])],
    ));
    let labels = &translation.batch.series[0].labels;
    assert_eq!(labels.get("otel_scope_name"), Some("io.opentelemetry.runtime"));
    assert_eq!(labels.get("otel_scope_version"), Some("1.2.0"));
    assert_eq!(labels.get("otel_scope_lib_kind"), Some("auto"));
    assert_eq!(labels.get("otel_scope_schema_url"), None, "empty, so absent");

    let unnamed = InstrumentationScope { version: "1".into(), ..Default::default() };
    let translation = run(&request_with(
        service_resource(vec![]),
        Some(unnamed),
        vec![gauge("g", "", vec![number(T0_NS, 1.0, vec![])])],
    ));
    assert_eq!(translation.batch.series[0].labels.get("otel_scope_version"), None, "no name, no scope labels");
}

#[test]
fn delta_temporality_is_rejected_with_a_partial_success() {
    let delta_points = vec![number(T0_NS, 1.0, vec![]), number(T0_NS + 1, 2.0, vec![]), number(T0_NS + 2, 3.0, vec![])];
    let metrics = vec![
        sum("http.requests", "", DELTA, true, delta_points),
        histogram("delta.latency", "s", DELTA, vec![histogram_point(&[1.0], &[1, 1], Some(1.0))]),
        sum("unspecified", "", 0, true, vec![number(T0_NS, 1.0, vec![])]),
        gauge("queue.length", "", vec![number(T0_NS, 7.0, vec![])]),
    ];
    let translation = run(&request(metrics));
    assert_eq!(translation.rejected_points, 5);
    let message = translation.error_message.clone().unwrap_or_default();
    assert!(message.contains(r#"invalid temporality and type combination for metric "http.requests""#), "{message}");
    assert!(message.contains(r#""delta.latency""#) && message.contains(r#""unspecified""#), "{message}");
    assert_eq!(values(&translation, r#"queue_length{instance="pod-7", job="checkout"}"#), vec![7.0]);
    assert!(translation.batch.metadata.iter().all(|m| m.metric_family_name != "http_requests_total"));
}

#[test]
fn no_recorded_value_writes_the_staleness_marker() {
    let mut stale_gauge = number(T0_NS, 5.0, vec![]);
    stale_gauge.flags = 1;
    let mut valueless = NumberDataPoint { time_unix_nano: T0_NS, flags: 1, ..Default::default() };
    valueless.attributes = vec![kv("k", string("v"))];
    let mut stale_histogram = histogram_point(&[1.0], &[1, 1], Some(3.0));
    stale_histogram.flags = 1;
    let translation = run(&request(vec![
        gauge("g", "", vec![stale_gauge, valueless]),
        histogram("h", "", CUMULATIVE, vec![stale_histogram]),
    ]));
    assert_eq!(translation.rejected_points, 0);
    assert_eq!(translation.batch.series.len(), 2 + 4);
    for series in &translation.batch.series {
        assert_eq!(series.samples.len(), 1);
        assert_eq!(series.samples[0].v.to_bits(), STALE_NAN_BITS, "{}", series.labels);
        assert!(is_stale_nan(series.samples[0].v));
    }
}

#[test]
fn summary_becomes_quantiles_sum_and_count() {
    let point = SummaryDataPoint {
        time_unix_nano: T0_NS,
        count: 100,
        sum: 42.0,
        quantile_values: vec![
            ValueAtQuantile { quantile: 0.5, value: 0.3 },
            ValueAtQuantile { quantile: 0.99, value: 1.7 },
            ValueAtQuantile { quantile: 1.0, value: 2.0 },
        ],
        ..Default::default()
    };
    let translation =
        run(&request(vec![metric("rpc.duration", "ms", Data::Summary(Summary { data_points: vec![point] }))]));
    let base = r#"instance="pod-7", job="checkout""#;
    assert_eq!(values(&translation, &format!(r#"rpc_duration_milliseconds{{{base}, quantile="0.5"}}"#)), vec![0.3]);
    assert_eq!(values(&translation, &format!(r#"rpc_duration_milliseconds{{{base}, quantile="0.99"}}"#)), vec![1.7]);
    assert_eq!(values(&translation, &format!(r#"rpc_duration_milliseconds{{{base}, quantile="1"}}"#)), vec![2.0]);
    assert_eq!(values(&translation, &format!("rpc_duration_milliseconds_sum{{{base}}}")), vec![42.0]);
    assert_eq!(values(&translation, &format!("rpc_duration_milliseconds_count{{{base}}}")), vec![100.0]);
    assert_eq!(metadata(&translation, "rpc_duration_milliseconds").kind, MetricType::Summary);
}

#[test]
fn exponential_histogram_becomes_classic_buckets() {
    // Scale 0: bucket i is (2^i, 2^(i+1)]. Zero bucket 1, bucket 1 (2, 4] = 0, bucket 2 (4, 8] = 2,
    // and one negative observation folded into the lowest bucket.
    let point = ExponentialHistogramDataPoint {
        time_unix_nano: T0_NS,
        count: 4,
        sum: Some(10.0),
        scale: 0,
        zero_count: 1,
        positive: Some(Buckets { offset: 1, bucket_counts: vec![0, 2] }),
        negative: Some(Buckets { offset: 0, bucket_counts: vec![1] }),
        ..Default::default()
    };
    let data = Data::ExponentialHistogram(ExponentialHistogram {
        data_points: vec![point],
        aggregation_temporality: CUMULATIVE,
    });
    let translation = run(&request(vec![metric("payload.size", "By", data)]));
    let base = r#"instance="pod-7", job="checkout""#;
    let bucket = |le: &str| format!("payload_size_bytes_bucket{{{base}, le={le:?}}}");
    assert_eq!(values(&translation, &bucket("0")), vec![2.0]);
    assert_eq!(values(&translation, &bucket("4")), vec![2.0]);
    assert_eq!(values(&translation, &bucket("8")), vec![4.0]);
    assert_eq!(values(&translation, &bucket("+Inf")), vec![4.0]);
    assert_eq!(values(&translation, &format!("payload_size_bytes_sum{{{base}}}")), vec![10.0]);
    assert_eq!(values(&translation, &format!("payload_size_bytes_count{{{base}}}")), vec![4.0]);
    assert_eq!(translation.batch.series.len(), 6);
    assert_eq!(metadata(&translation, "payload_size_bytes").kind, MetricType::Histogram);

    let coarse = ExponentialHistogramDataPoint { time_unix_nano: T0_NS, scale: -5, count: 1, ..Default::default() };
    let data = Data::ExponentialHistogram(ExponentialHistogram {
        data_points: vec![coarse],
        aggregation_temporality: CUMULATIVE,
    });
    let translation = run(&request(vec![metric("coarse", "", data)]));
    assert_eq!(translation.rejected_points, 1);
    assert!(translation.error_message.unwrap_or_default().contains("scale -5"));
}

#[test]
fn invalid_label_sets_reject_only_their_point() {
    let limits = LabelLimits { max_name_bytes: 1024, max_value_bytes: 16 };
    let points = vec![
        number(T0_NS, 1.0, vec![kv("short", string("ok"))]),
        number(T0_NS, 2.0, vec![kv("long", string("this value is far too long"))]),
        number(T0_NS, 3.0, vec![kv("", string("empty key"))]),
        number(T0_NS, 4.0, vec![kv("..", string("only underscores"))]),
    ];
    let translation = translate(&request(vec![gauge("g", "", points)]), &limits);
    assert_eq!(translation.rejected_points, 3);
    assert_eq!(translation.batch.series.len(), 1);
    assert_eq!(translation.batch.series[0].labels.get("short"), Some("ok"));
    let message = translation.error_message.clone().unwrap_or_default();
    assert!(message.contains(r#"data point of metric "g" dropped"#), "{message}");
    assert!(message.contains("longer than 16 bytes"), "{message}");

    // A histogram point is all or nothing: its longest series name is over the limit.
    let limits = LabelLimits { max_name_bytes: 1024, max_value_bytes: 20 };
    let translation = translate(
        &request(vec![histogram("abcdefghijklmn", "", CUMULATIVE, vec![histogram_point(&[1.0], &[1, 1], Some(1.0))])]),
        &limits,
    );
    assert_eq!(translation.rejected_points, 1);
    assert!(translation.batch.series.iter().all(|s| s.labels.metric_name().is_some_and(|n| !n.starts_with("abc"))));
}

#[test]
fn unusable_metrics_are_reported() {
    let valueless = NumberDataPoint { time_unix_nano: T0_NS, ..Default::default() };
    let metrics = vec![
        gauge("no.value", "", vec![valueless]),
        gauge("...", "", vec![number(T0_NS, 1.0, vec![]), number(T0_NS, 1.0, vec![])]),
        Metric { name: "no.data".into(), ..Default::default() },
        gauge("no.points", "", vec![]),
    ];
    let translation = run(&request(metrics));
    assert_eq!(translation.rejected_points, 3);
    let message = translation.error_message.clone().unwrap_or_default();
    for expected in [
        "\"no.value\" dropped: it has no value",
        "resulted in empty name",
        "\"no.data\" has no data",
        "empty data points. no.points is dropped",
    ] {
        assert!(message.contains(expected), "{expected:?} not in {message}");
    }
}

#[test]
fn points_of_one_series_are_merged_in_order() {
    let points = vec![
        number(T0_NS, 1.0, vec![]),
        number(T0_NS + 15_000_000_000, 2.0, vec![]),
        number(T0_NS, 9.0, vec![kv("a", string("b"))]),
    ];
    let translation = run(&request(vec![gauge("g", "", points)]));
    let samples = &series(&translation)[r#"g{instance="pod-7", job="checkout"}"#];
    assert_eq!(samples, &vec![Sample { t: T0_MS, v: 1.0 }, Sample { t: T0_MS + 15_000, v: 2.0 }]);
    assert_eq!(translation.batch.series.len(), 2);
}

#[test]
fn error_messages_are_bounded() {
    let metrics: Vec<Metric> =
        (0..20).map(|i| sum(&format!("delta{i}"), "", DELTA, true, vec![number(T0_NS, 1.0, vec![])])).collect();
    let translation = run(&request(metrics));
    assert_eq!(translation.rejected_points, 20);
    let message = translation.error_message.clone().unwrap_or_default();
    assert!(message.ends_with("; and 12 more"), "{message}");
}

#[test]
fn empty_requests_translate_to_nothing() {
    let translation = run(&ExportMetricsServiceRequest::default());
    assert_eq!(translation, Translation::default());
    assert_eq!(decode_protobuf(b""), Ok(ExportMetricsServiceRequest::default()));
    assert_eq!(decode_json(b""), Ok(ExportMetricsServiceRequest::default()));
    assert_eq!(decode_json(b"{}"), Ok(ExportMetricsServiceRequest::default()));
    assert!(decode_protobuf(b"\xff\xff\xff").is_err());
    assert!(decode_json(b"[1, 2]").is_err());
    assert!(decode_json(b"{\"resourceMetrics\": [").is_err());
}

/// The OTLP/JSON request: shaped like the OTLP repository's `examples/metrics.json` (64-bit
/// integers as strings, `asDouble` written as an integer, enums as integers), with cumulative
/// temporality so that Prometheus keeps the points, plus one delta metric it refuses.
const JSON_REQUEST: &str = r#"{
  "resourceMetrics": [
    {
      "resource": {
        "attributes": [
          { "key": "service.name", "value": { "stringValue": "my.service" } },
          { "key": "host.name", "value": { "stringValue": "node-1" } },
          { "key": "process.pid", "value": { "intValue": "4242" } }
        ]
      },
      "scopeMetrics": [
        {
          "scope": {
            "name": "my.library",
            "version": "1.0.0",
            "attributes": [ { "key": "my.scope.attribute", "value": { "stringValue": "some scope attribute" } } ]
          },
          "metrics": [
            {
              "name": "my.counter",
              "unit": "1",
              "description": "I am a Counter",
              "sum": {
                "aggregationTemporality": 2,
                "isMonotonic": true,
                "dataPoints": [
                  {
                    "asDouble": 5,
                    "startTimeUnixNano": "1544712660300000000",
                    "timeUnixNano": "1544712660300000000",
                    "attributes": [ { "key": "my.counter.attr", "value": { "stringValue": "some value" } } ]
                  }
                ]
              }
            },
            {
              "name": "my.gauge",
              "unit": "1",
              "description": "I am a Gauge",
              "gauge": {
                "dataPoints": [
                  {
                    "asInt": "10",
                    "timeUnixNano": "1544712660300000000",
                    "attributes": [ { "key": "my.gauge.attr", "value": { "doubleValue": 0.5 } } ]
                  }
                ]
              }
            },
            {
              "name": "my.histogram",
              "unit": "ms",
              "description": "I am a Histogram",
              "histogram": {
                "aggregationTemporality": 2,
                "dataPoints": [
                  {
                    "startTimeUnixNano": "1544712660300000000",
                    "timeUnixNano": "1544712660300000000",
                    "count": "2",
                    "sum": 2,
                    "bucketCounts": ["1", "1"],
                    "explicitBounds": [1],
                    "min": 0,
                    "max": 2,
                    "exemplars": [
                      { "asDouble": 1.5, "timeUnixNano": "1544712660300000000", "traceId": "5B8EFFF798038103D269B633813FC60C", "spanId": "EEE19B7EC3C1B174" }
                    ],
                    "attributes": [ { "key": "my.histogram.attr", "value": { "boolValue": true } } ]
                  }
                ]
              }
            },
            {
              "name": "my.exponential.histogram",
              "unit": "1",
              "description": "I am an Exponential Histogram",
              "exponentialHistogram": {
                "aggregationTemporality": 2,
                "dataPoints": [
                  {
                    "startTimeUnixNano": "1544712660300000000",
                    "timeUnixNano": "1544712660300000000",
                    "count": "3",
                    "sum": 10,
                    "scale": 0,
                    "zeroCount": "1",
                    "positive": { "offset": 1, "bucketCounts": ["0", "2"] },
                    "min": 0,
                    "max": 5,
                    "zeroThreshold": 0,
                    "attributes": [ { "key": "my.exponential.histogram.attr", "value": { "stringValue": "some value" } } ]
                  }
                ]
              }
            },
            {
              "name": "my.summary",
              "unit": "s",
              "summary": {
                "dataPoints": [
                  {
                    "timeUnixNano": "1544712660300000000",
                    "count": "4",
                    "sum": 1.25,
                    "quantileValues": [ { "quantile": 0.5, "value": 0.25 }, { "quantile": 1, "value": "Infinity" } ]
                  }
                ]
              }
            },
            {
              "name": "my.delta.counter",
              "sum": {
                "aggregationTemporality": 1,
                "isMonotonic": true,
                "dataPoints": [ { "asInt": "1", "timeUnixNano": "1544712660300000000" } ]
              }
            }
          ]
        }
      ]
    }
  ]
}"#;

/// The same request built as prost messages.
fn protobuf_twin() -> ExportMetricsServiceRequest {
    let scope = InstrumentationScope {
        name: "my.library".into(),
        version: "1.0.0".into(),
        attributes: vec![kv("my.scope.attribute", string("some scope attribute"))],
        ..Default::default()
    };
    let with_description = |mut metric: Metric, description: &str| {
        metric.description = description.to_owned();
        metric
    };
    let mut counter_point = number(T0_NS, 5.0, vec![kv("my.counter.attr", string("some value"))]);
    counter_point.start_time_unix_nano = T0_NS;
    let gauge_point = NumberDataPoint {
        attributes: vec![kv("my.gauge.attr", Value::DoubleValue(0.5))],
        time_unix_nano: T0_NS,
        value: Some(number_data_point::Value::AsInt(10)),
        ..Default::default()
    };
    let histogram_point = HistogramDataPoint {
        attributes: vec![kv("my.histogram.attr", Value::BoolValue(true))],
        start_time_unix_nano: T0_NS,
        time_unix_nano: T0_NS,
        count: 2,
        sum: Some(2.0),
        bucket_counts: vec![1, 1],
        explicit_bounds: vec![1.0],
        exemplars: vec![Exemplar {
            time_unix_nano: T0_NS,
            trace_id: vec![
                0x5b, 0x8e, 0xff, 0xf7, 0x98, 0x03, 0x81, 0x03, 0xd2, 0x69, 0xb6, 0x33, 0x81, 0x3f, 0xc6, 0x0c,
            ],
            span_id: vec![0xee, 0xe1, 0x9b, 0x7e, 0xc3, 0xc1, 0xb1, 0x74],
            value: Some(exemplar::Value::AsDouble(1.5)),
            ..Default::default()
        }],
        min: Some(0.0),
        max: Some(2.0),
        ..Default::default()
    };
    let exponential_point = ExponentialHistogramDataPoint {
        attributes: vec![kv("my.exponential.histogram.attr", string("some value"))],
        start_time_unix_nano: T0_NS,
        time_unix_nano: T0_NS,
        count: 3,
        sum: Some(10.0),
        scale: 0,
        zero_count: 1,
        positive: Some(Buckets { offset: 1, bucket_counts: vec![0, 2] }),
        min: Some(0.0),
        max: Some(5.0),
        zero_threshold: 0.0,
        ..Default::default()
    };
    let summary_point = SummaryDataPoint {
        time_unix_nano: T0_NS,
        count: 4,
        sum: 1.25,
        quantile_values: vec![
            ValueAtQuantile { quantile: 0.5, value: 0.25 },
            ValueAtQuantile { quantile: 1.0, value: f64::INFINITY },
        ],
        ..Default::default()
    };
    let delta_point = NumberDataPoint {
        time_unix_nano: T0_NS,
        value: Some(number_data_point::Value::AsInt(1)),
        ..Default::default()
    };
    let metrics = vec![
        with_description(sum("my.counter", "1", CUMULATIVE, true, vec![counter_point]), "I am a Counter"),
        with_description(gauge("my.gauge", "1", vec![gauge_point]), "I am a Gauge"),
        with_description(histogram("my.histogram", "ms", CUMULATIVE, vec![histogram_point]), "I am a Histogram"),
        with_description(
            metric(
                "my.exponential.histogram",
                "1",
                Data::ExponentialHistogram(ExponentialHistogram {
                    data_points: vec![exponential_point],
                    aggregation_temporality: CUMULATIVE,
                }),
            ),
            "I am an Exponential Histogram",
        ),
        with_description(metric("my.summary", "s", Data::Summary(Summary { data_points: vec![summary_point] })), ""),
        with_description(sum("my.delta.counter", "", DELTA, true, vec![delta_point]), ""),
    ];
    let resource = vec![
        kv("service.name", string("my.service")),
        kv("host.name", string("node-1")),
        kv("process.pid", Value::IntValue(4242)),
    ];
    request_with(resource, Some(scope), metrics)
}

#[test]
fn json_request_decodes_to_its_protobuf_twin() {
    let twin_bytes = protobuf_twin().encode_to_vec();
    let from_protobuf = decode_protobuf(&twin_bytes).unwrap_or_else(|e| panic!("{e}"));
    let from_json = decode_json(JSON_REQUEST.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(from_json, from_protobuf);

    let limits = LabelLimits::default();
    let translation = translate(&from_json, &limits);
    assert_eq!(translation, translate(&from_protobuf, &limits));
    assert_eq!(translation.rejected_points, 1, "the delta counter");
    assert!(translation.error_message.as_deref().is_some_and(|m| m.contains("my.delta.counter")));

    let scope = r#"otel_scope_my_scope_attribute="some scope attribute", otel_scope_name="my.library", otel_scope_version="1.0.0""#;
    assert_eq!(
        values(
            &translation,
            &format!(r#"my_counter_total{{job="my.service", my_counter_attr="some value", {scope}}}"#)
        ),
        vec![5.0]
    );
    assert_eq!(
        values(&translation, &format!(r#"my_gauge_ratio{{job="my.service", my_gauge_attr="0.5", {scope}}}"#)),
        vec![10.0]
    );
    assert_eq!(
        values(
            &translation,
            &format!(
                r#"my_histogram_milliseconds_bucket{{job="my.service", le="1", my_histogram_attr="true", {scope}}}"#
            )
        ),
        vec![1.0]
    );
    assert_eq!(
        values(
            &translation,
            &format!(
                r#"my_exponential_histogram_bucket{{job="my.service", le="8", my_exponential_histogram_attr="some value", {scope}}}"#
            )
        ),
        vec![3.0]
    );
    assert_eq!(
        values(&translation, &format!(r#"my_summary_seconds{{job="my.service", {scope}, quantile="1"}}"#)),
        vec![f64::INFINITY]
    );
    let target_info = r#"target_info{host_name="node-1", job="my.service", process_pid="4242"}"#;
    assert_eq!(values(&translation, target_info), vec![1.0]);
}

#[test]
fn json_accepts_numbers_nulls_specials_and_ignores_unknown_fields() {
    let json = r#"{
      "resourceMetrics": [{
        "resource": null,
        "unknownTopLevel": {"nested": [1, 2, {"deep": true}]},
        "scopeMetrics": [{
          "metrics": [
            {
              "name": "g",
              "metadata": null,
              "futureField": 1,
              "gauge": { "dataPoints": [
                { "timeUnixNano": 1544712660300000000, "asDouble": "NaN", "flags": 0,
                  "attributes": [ { "key": "b", "value": { "bytesValue": "aGkhPw==" } },
                                  { "key": "e", "value": { } },
                                  { "key": "n", "value": { "arrayValue": {} } },
                                  { "key": "m", "value": { "kvlistValue": { "values": null } } } ] },
                { "time_unix_nano": "5", "as_double": 1, "timeUnixNano": "1544712660300000000", "asInt": 3 }
              ] }
            },
            {
              "name": "h",
              "histogram": { "aggregationTemporality": 2, "dataPoints": [
                { "timeUnixNano": "1544712660300000000", "count": 3, "sum": "Infinity",
                  "bucketCounts": [1, "1", 1], "explicitBounds": [0.5, "1"],
                  "exemplars": [ { "traceId": "", "spanId": "", "asInt": "2" } ] }
              ] }
            }
          ]
        }]
      }]
    }"#;
    let request = decode_json(json.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    let metrics = &request.resource_metrics[0].scope_metrics[0].metrics;
    let Some(Data::Gauge(gauge)) = &metrics[0].data else { panic!("gauge expected") };
    assert!(matches!(gauge.data_points[0].value, Some(number_data_point::Value::AsDouble(v)) if v.is_nan()));
    assert_eq!(gauge.data_points[0].time_unix_nano, T0_NS);
    assert_eq!(gauge.data_points[1].value, Some(number_data_point::Value::AsInt(3)), "snake_case keys are ignored");
    assert_eq!(gauge.data_points[1].time_unix_nano, T0_NS);
    let attributes = &gauge.data_points[0].attributes;
    assert_eq!(attributes[0].value, Some(AnyValue { value: Some(Value::BytesValue(b"hi!?".to_vec())) }));
    assert_eq!(attributes[1].value, Some(AnyValue { value: None }));
    assert_eq!(attributes[2].value, Some(AnyValue { value: Some(Value::ArrayValue(ArrayValue { values: vec![] })) }));
    let Some(Data::Histogram(histogram)) = &metrics[1].data else { panic!("histogram expected") };
    let point = &histogram.data_points[0];
    assert_eq!(
        (point.count, point.sum, point.bucket_counts.as_slice(), point.explicit_bounds.as_slice()),
        (3, Some(f64::INFINITY), &[1, 1, 1][..], &[0.5, 1.0][..])
    );
    assert!(point.exemplars[0].trace_id.is_empty());

    let translation = run(&request);
    let labels =
        &translation.batch.series.iter().find(|s| s.labels.metric_name() == Some("g")).map(|s| s.labels.clone());
    assert_eq!(labels.as_ref().and_then(|l| l.get("b")), Some("aGkhPw=="));
    assert_eq!(labels.as_ref().and_then(|l| l.get("n")), Some("[]"));
    assert_eq!(labels.as_ref().and_then(|l| l.get("m")), Some("{}"));
}

#[test]
fn json_refuses_malformed_requests() {
    for (json, why) in [
        (
            r#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"x","gauge":{},"sum":{}}]}]}]}"#,
            "two data oneofs",
        ),
        (
            r#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"x","gauge":{"dataPoints":[{"asInt":"1","asDouble":1}]}}]}]}]}"#,
            "two value oneofs",
        ),
        (
            r#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"x","sum":{"aggregationTemporality":"AGGREGATION_TEMPORALITY_CUMULATIVE"}}]}]}]}"#,
            "enum name",
        ),
        (
            r#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"x","gauge":{"dataPoints":[{"timeUnixNano":"soon"}]}}]}]}]}"#,
            "bad integer",
        ),
        (
            r#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"x","gauge":{"dataPoints":[{"asDouble":true}]}}]}]}]}"#,
            "bad double",
        ),
        (
            r#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"x","histogram":{"dataPoints":[{"exemplars":[{"traceId":"xyz"}]}]}}]}]}]}"#,
            "bad hex",
        ),
        (
            r#"{"resourceMetrics":[{"resource":{"attributes":[{"key":"k","value":{"stringValue":"a","intValue":1}}]}}]}"#,
            "two attribute oneofs",
        ),
    ] {
        assert!(decode_json(json.as_bytes()).is_err(), "{why} should be refused");
    }
}

// Pharos — ingest/src/otlp_metrics/tests.rs

//! OTLP logs to records: [`records_from_otlp`] maps a decoded `ExportLogsServiceRequest` (gRPC,
//! HTTP protobuf or HTTP JSON — the transports decode elsewhere) to [`LogRecord`]s
//! (`shared/specs/otlp.md` §2).
//!
//! # Record
//! - Index: the configured one (`ingest.logs.otlp_index`, default [`OTLP_INDEX`], `otel-logs`).
//! - Timestamp: `time_unix_nano`, else `observed_time_unix_nano`, else the receive time.
//! - Document (a flat object; `source` is it serialized, keys sorted):
//!   - `@timestamp` (RFC 3339, nanoseconds), `observed_timestamp` when set;
//!   - `message`: the body — a string as is, any other kind JSON-encoded (arrays and maps as JSON
//!     text, bytes as base64); absent when the record has no body;
//!   - `level`: `severity_text`, else derived from `severity_number` (1–4 TRACE, 5–8 DEBUG, 9–12
//!     INFO, 13–16 WARN, 17–20 ERROR, 21–24 FATAL); `severity_number` when set;
//!   - `trace_id`, `span_id` as lowercase hex (omitted when empty or all zero), `flags`,
//!     `event_name`, `dropped_attributes_count` when set;
//!   - `service.name` from the resource; resource attributes as `resource.<key>`; the scope as
//!     `scope.name` / `scope.version` (scope attributes are not kept);
//!   - log attributes as top-level keys under their own (dotted) names, values as JSON (ints,
//!     doubles, bools, strings, arrays, maps; bytes base64; non-finite doubles as strings). An
//!     attribute whose name is already taken by the fields above goes to `attributes.<key>`.
//! - Labels (sorted): `index`; `service_name` = resource `service.name`, else `unknown_service`;
//!   and, as Loki promotes by default, these resource attributes when present, dots turned into
//!   underscores: `service.namespace`, `service.instance.id`, `deployment.environment`,
//!   `deployment.environment.name`, `cloud.region`, `cloud.availability_zone`, `container.name`,
//!   `k8s.cluster.name`, `k8s.namespace.name`, `k8s.pod.name`, `k8s.container.name`,
//!   `k8s.deployment.name`, `k8s.replicaset.name`, `k8s.statefulset.name`, `k8s.daemonset.name`,
//!   `k8s.cronjob.name`, `k8s.job.name`.
//! - A record whose `trace_id` is neither empty nor 16 bytes, or whose `span_id` is neither empty
//!   nor 8 bytes, is rejected: counted, described in the error message (the first reason plus the
//!   count), the others kept — the OTLP partial-success answer ([`export_response`]).

mod json;

pub use json::decode_json;

use pharos_proto::otlp::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use pharos_proto::otlp::common::v1::{AnyValue, KeyValue, any_value};
use pharos_proto::otlp::logs::v1::LogRecord as OtlpLogRecord;
use serde_json::{Map, Number, Value};

use crate::log_document::{base64_std, format_rfc3339_nanos, now_nanos};
use pharos_storage::logs::LogRecord;

/// The index OTLP log records are stored in.
pub const OTLP_INDEX: &str = "otel-logs";

/// Resource attributes that become labels (Loki's default OTLP index labels).
const PROMOTED_RESOURCE_ATTRIBUTES: [&str; 18] = [
    "cloud.availability_zone",
    "cloud.region",
    "container.name",
    "deployment.environment",
    "deployment.environment.name",
    "k8s.cluster.name",
    "k8s.container.name",
    "k8s.cronjob.name",
    "k8s.daemonset.name",
    "k8s.deployment.name",
    "k8s.job.name",
    "k8s.namespace.name",
    "k8s.pod.name",
    "k8s.replicaset.name",
    "k8s.statefulset.name",
    "service.instance.id",
    "service.name",
    "service.namespace",
];

/// An OTLP `AnyValue` as JSON.
pub fn any_value_to_json(value: &AnyValue) -> Value {
    match &value.value {
        None => Value::Null,
        Some(any_value::Value::StringValue(s)) => Value::String(s.clone()),
        Some(any_value::Value::BoolValue(b)) => Value::Bool(*b),
        Some(any_value::Value::IntValue(i)) => Value::Number((*i).into()),
        Some(any_value::Value::DoubleValue(d)) => {
            Number::from_f64(*d).map_or_else(|| Value::String(d.to_string()), Value::Number)
        }
        Some(any_value::Value::ArrayValue(a)) => Value::Array(a.values.iter().map(any_value_to_json).collect()),
        Some(any_value::Value::KvlistValue(kv)) => Value::Object(
            kv.values
                .iter()
                .map(|p| (p.key.clone(), p.value.as_ref().map_or(Value::Null, any_value_to_json)))
                .collect(),
        ),
        Some(any_value::Value::BytesValue(b)) => Value::String(base64_std(b)),
        // An index into a profiles string table: meaningless without the table, which logs lack.
        Some(any_value::Value::StringValueStrindex(_)) => Value::Null,
    }
}

/// An `AnyValue` as text: strings as they are, bytes as base64, everything else JSON-encoded.
fn any_value_to_text(value: &AnyValue) -> String {
    match &value.value {
        Some(any_value::Value::StringValue(s)) => s.clone(),
        Some(any_value::Value::BytesValue(b)) => base64_std(b),
        _ => any_value_to_json(value).to_string(),
    }
}

fn kv_text<'a>(attributes: &'a [KeyValue], key: &str) -> Option<(&'a KeyValue, String)> {
    let kv = attributes.iter().find(|kv| kv.key == key)?;
    Some((kv, kv.value.as_ref().map(any_value_to_text).unwrap_or_default()))
}

/// The level name of an OTLP severity number.
pub fn severity_level(number: i32) -> Option<&'static str> {
    Some(match number {
        1..=4 => "TRACE",
        5..=8 => "DEBUG",
        9..=12 => "INFO",
        13..=16 => "WARN",
        17..=20 => "ERROR",
        21..=24 => "FATAL",
        _ => return None,
    })
}

fn hex_id(bytes: &[u8]) -> Option<String> {
    if bytes.iter().all(|&b| b == 0) {
        return None;
    }
    const HEX: &[u8; 16] = b"0123456789abcdef";
    Some(bytes.iter().flat_map(|&b| [HEX[usize::from(b >> 4)] as char, HEX[usize::from(b & 15)] as char]).collect())
}

fn label_name(attribute: &str) -> String {
    attribute.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }).collect()
}

/// What a resource contributes to each of its records.
struct ResourceContext {
    labels: Vec<(String, String)>,
    fields: Map<String, Value>,
}

fn resource_context(attributes: &[KeyValue], index: &str) -> ResourceContext {
    let mut labels = vec![("index".to_owned(), index.to_owned())];
    let service = kv_text(attributes, "service.name").map(|(_, s)| s).filter(|s| !s.is_empty());
    labels.push(("service_name".to_owned(), service.clone().unwrap_or_else(|| "unknown_service".to_owned())));
    for name in PROMOTED_RESOURCE_ATTRIBUTES {
        if name != "service.name"
            && let Some((_, value)) = kv_text(attributes, name)
            && !value.is_empty()
        {
            labels.push((label_name(name), value));
        }
    }
    labels.sort();
    labels.dedup_by(|a, b| a.0 == b.0);
    let mut fields = Map::new();
    if let Some(service) = service {
        fields.insert("service.name".into(), Value::String(service));
    }
    for kv in attributes {
        fields.insert(format!("resource.{}", kv.key), kv.value.as_ref().map_or(Value::Null, any_value_to_json));
    }
    ResourceContext { labels, fields }
}

fn check_ids(record: &OtlpLogRecord) -> Result<(), String> {
    if !record.trace_id.is_empty() && record.trace_id.len() != 16 {
        return Err(format!("invalid trace_id of {} bytes (want 16)", record.trace_id.len()));
    }
    if !record.span_id.is_empty() && record.span_id.len() != 8 {
        return Err(format!("invalid span_id of {} bytes (want 8)", record.span_id.len()));
    }
    Ok(())
}

fn to_nanos(unix_nanos: u64) -> Option<i64> {
    (unix_nanos != 0).then(|| i64::try_from(unix_nanos).unwrap_or(i64::MAX))
}

fn build_document(
    record: &OtlpLogRecord,
    timestamp: i64,
    resource: &ResourceContext,
    scope: &Map<String, Value>,
) -> Map<String, Value> {
    let mut doc = Map::new();
    doc.insert("@timestamp".into(), Value::String(format_rfc3339_nanos(timestamp)));
    if let Some(observed) = to_nanos(record.observed_time_unix_nano) {
        doc.insert("observed_timestamp".into(), Value::String(format_rfc3339_nanos(observed)));
    }
    if let Some(body) = &record.body {
        doc.insert("message".into(), Value::String(any_value_to_text(body)));
    }
    let level =
        Some(record.severity_text.as_str()).filter(|s| !s.is_empty()).or(severity_level(record.severity_number));
    if let Some(level) = level {
        doc.insert("level".into(), Value::String(level.to_owned()));
    }
    if record.severity_number != 0 {
        doc.insert("severity_number".into(), Value::Number(record.severity_number.into()));
    }
    if let Some(trace_id) = hex_id(&record.trace_id) {
        doc.insert("trace_id".into(), Value::String(trace_id));
    }
    if let Some(span_id) = hex_id(&record.span_id) {
        doc.insert("span_id".into(), Value::String(span_id));
    }
    if record.flags != 0 {
        doc.insert("flags".into(), Value::Number(record.flags.into()));
    }
    if !record.event_name.is_empty() {
        doc.insert("event_name".into(), Value::String(record.event_name.clone()));
    }
    if record.dropped_attributes_count != 0 {
        doc.insert("dropped_attributes_count".into(), Value::Number(record.dropped_attributes_count.into()));
    }
    doc.extend(resource.fields.iter().map(|(k, v)| (k.clone(), v.clone())));
    doc.extend(scope.iter().map(|(k, v)| (k.clone(), v.clone())));
    for kv in &record.attributes {
        let value = kv.value.as_ref().map_or(Value::Null, any_value_to_json);
        let key = if doc.contains_key(&kv.key) { format!("attributes.{}", kv.key) } else { kv.key.clone() };
        doc.insert(key, value);
    }
    doc
}

/// Maps an OTLP logs export to records (see the module docs). Returns the records, how many log
/// records were rejected, and a message describing the rejections (empty when none).
pub fn records_from_otlp(request: ExportLogsServiceRequest, index: &str) -> (Vec<LogRecord>, u64, String) {
    let received = now_nanos();
    let mut records = Vec::new();
    let mut rejected = 0u64;
    let mut first_error = String::new();
    for resource_logs in &request.resource_logs {
        let attributes = resource_logs.resource.as_ref().map_or(&[][..], |r| &r.attributes[..]);
        let resource = resource_context(attributes, index);
        for scope_logs in &resource_logs.scope_logs {
            let mut scope = Map::new();
            if let Some(s) = &scope_logs.scope {
                if !s.name.is_empty() {
                    scope.insert("scope.name".into(), Value::String(s.name.clone()));
                }
                if !s.version.is_empty() {
                    scope.insert("scope.version".into(), Value::String(s.version.clone()));
                }
            }
            for record in &scope_logs.log_records {
                if let Err(reason) = check_ids(record) {
                    rejected += 1;
                    if first_error.is_empty() {
                        first_error = reason;
                    }
                    continue;
                }
                let timestamp = to_nanos(record.time_unix_nano)
                    .or_else(|| to_nanos(record.observed_time_unix_nano))
                    .unwrap_or(received);
                let doc = build_document(record, timestamp, &resource, &scope);
                let source = serde_json::to_string(&doc).unwrap_or_else(|_| "{}".to_owned());
                records.push(LogRecord {
                    index: index.to_owned(),
                    timestamp_nanos: timestamp,
                    labels: resource.labels.clone(),
                    source,
                    doc,
                });
            }
        }
    }
    let message = match rejected {
        0 => String::new(),
        1 => format!("1 log record rejected: {first_error}"),
        n => format!("{n} log records rejected; first: {first_error}"),
    };
    (records, rejected, message)
}

/// The OTLP answer for an export: `partial_success` only when something was rejected.
pub fn export_response(rejected: u64, error_message: String) -> ExportLogsServiceResponse {
    ExportLogsServiceResponse {
        partial_success: (rejected > 0 || !error_message.is_empty()).then(|| ExportLogsPartialSuccess {
            rejected_log_records: i64::try_from(rejected).unwrap_or(i64::MAX),
            error_message,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pharos_proto::otlp::common::v1::{ArrayValue, InstrumentationScope, KeyValueList};
    use pharos_proto::otlp::logs::v1::{ResourceLogs, ScopeLogs};
    use pharos_proto::otlp::resource::v1::Resource;
    use serde_json::json;

    fn s(v: &str) -> AnyValue {
        AnyValue { value: Some(any_value::Value::StringValue(v.to_owned())) }
    }

    fn kv(key: &str, value: AnyValue) -> KeyValue {
        KeyValue { key: key.to_owned(), value: Some(value), ..Default::default() }
    }

    fn any(v: any_value::Value) -> AnyValue {
        AnyValue { value: Some(v) }
    }

    fn request() -> ExportLogsServiceRequest {
        let resource = Resource {
            attributes: vec![
                kv("service.name", s("checkout")),
                kv("service.namespace", s("shop")),
                kv("deployment.environment", s("prod")),
                kv("k8s.pod.name", s("checkout-1")),
                kv("host.name", s("node-7")),
            ],
            ..Default::default()
        };
        let records = vec![
            OtlpLogRecord {
                time_unix_nano: 1_714_557_600_000_000_123,
                observed_time_unix_nano: 1_714_557_601_000_000_000,
                severity_number: 17,
                severity_text: "Error".to_owned(),
                body: Some(s("payment failed")),
                attributes: vec![
                    kv("http.status_code", any(any_value::Value::IntValue(502))),
                    kv("retry", any(any_value::Value::BoolValue(true))),
                    kv("ratio", any(any_value::Value::DoubleValue(0.5))),
                    kv("message", s("attribute named message")),
                ],
                trace_id: vec![0xab; 16],
                span_id: vec![0, 1, 2, 3, 4, 5, 6, 0xff],
                flags: 1,
                event_name: "payment.failure".to_owned(),
                ..Default::default()
            },
            OtlpLogRecord {
                observed_time_unix_nano: 1_714_557_602_000_000_000,
                severity_number: 10,
                body: Some(any(any_value::Value::KvlistValue(KeyValueList {
                    values: vec![
                        kv("a", any(any_value::Value::IntValue(1))),
                        kv("b", any(any_value::Value::ArrayValue(ArrayValue { values: vec![s("x")] }))),
                    ],
                }))),
                trace_id: vec![0; 16],
                ..Default::default()
            },
            OtlpLogRecord { body: Some(any(any_value::Value::BytesValue(vec![1, 2, 3]))), ..Default::default() },
            OtlpLogRecord { trace_id: vec![1; 5], body: Some(s("bad trace id")), ..Default::default() },
            OtlpLogRecord { span_id: vec![1; 16], body: Some(s("bad span id")), ..Default::default() },
        ];
        ExportLogsServiceRequest {
            resource_logs: vec![
                ResourceLogs {
                    resource: Some(resource),
                    scope_logs: vec![ScopeLogs {
                        scope: Some(InstrumentationScope {
                            name: "app.logger".to_owned(),
                            version: "1.2".to_owned(),
                            ..Default::default()
                        }),
                        log_records: records,
                        ..Default::default()
                    }],
                    ..Default::default()
                },
                ResourceLogs {
                    resource: None,
                    scope_logs: vec![ScopeLogs {
                        log_records: vec![OtlpLogRecord {
                            time_unix_nano: 5,
                            body: Some(s("anonymous")),
                            ..Default::default()
                        }],
                        ..Default::default()
                    }],
                    ..Default::default()
                },
            ],
        }
    }

    #[test]
    fn maps_records_as_designed() {
        let (records, rejected, message) = records_from_otlp(request(), OTLP_INDEX);
        assert_eq!(rejected, 2);
        assert_eq!(message, "2 log records rejected; first: invalid trace_id of 5 bytes (want 16)");
        assert_eq!(records.len(), 4);

        let r = &records[0];
        assert_eq!(r.index, "otel-logs");
        assert_eq!(r.timestamp_nanos, 1_714_557_600_000_000_123);
        let labels: Vec<(&str, &str)> = r.labels.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(
            labels,
            [
                ("deployment_environment", "prod"),
                ("index", "otel-logs"),
                ("k8s_pod_name", "checkout-1"),
                ("service_name", "checkout"),
                ("service_namespace", "shop"),
            ]
        );
        let d = &r.doc;
        assert_eq!(d["@timestamp"], "2024-05-01T10:00:00.000000123Z");
        assert_eq!(d["observed_timestamp"], "2024-05-01T10:00:01.000000000Z");
        assert_eq!(d["message"], "payment failed");
        assert_eq!(d["level"], "Error");
        assert_eq!(d["severity_number"], 17);
        assert_eq!(d["trace_id"], "abababababababababababababababab");
        assert_eq!(d["span_id"], "00010203040506ff");
        assert_eq!(d["flags"], 1);
        assert_eq!(d["event_name"], "payment.failure");
        assert_eq!(d["service.name"], "checkout");
        assert_eq!(d["resource.host.name"], "node-7");
        assert_eq!(d["resource.service.namespace"], "shop");
        assert_eq!(d["scope.name"], "app.logger");
        assert_eq!(d["scope.version"], "1.2");
        assert_eq!(d["http.status_code"], 502);
        assert_eq!(d["retry"], true);
        assert_eq!(d["ratio"], 0.5);
        assert_eq!(d["attributes.message"], "attribute named message");
        assert_eq!(serde_json::from_str::<Map<String, Value>>(&r.source).unwrap(), r.doc);

        let r = &records[1];
        assert_eq!(r.timestamp_nanos, 1_714_557_602_000_000_000, "observed time when time is unset");
        assert_eq!(
            serde_json::from_str::<Value>(r.doc["message"].as_str().unwrap()).unwrap(),
            json!({"a": 1, "b": ["x"]})
        );
        assert_eq!(r.doc["level"], "INFO");
        assert!(!r.doc.contains_key("trace_id"), "all-zero trace id omitted");

        let r = &records[2];
        assert!((now_nanos() - r.timestamp_nanos).abs() < 60_000_000_000, "receive time when both unset");
        assert_eq!(r.doc["message"], "AQID");
        assert!(!r.doc.contains_key("level"));

        let r = &records[3];
        assert_eq!(
            r.labels,
            vec![
                ("index".to_owned(), "otel-logs".to_owned()),
                ("service_name".to_owned(), "unknown_service".to_owned())
            ]
        );
        assert_eq!(r.timestamp_nanos, 5);
        assert!(!r.doc.contains_key("service.name"));
    }

    #[test]
    fn values_levels_and_responses() {
        assert_eq!(any_value_to_json(&any(any_value::Value::DoubleValue(f64::NAN))), json!("NaN"));
        assert_eq!(any_value_to_json(&AnyValue { value: None }), Value::Null);
        assert_eq!(severity_level(1), Some("TRACE"));
        assert_eq!(severity_level(8), Some("DEBUG"));
        assert_eq!(severity_level(13), Some("WARN"));
        assert_eq!(severity_level(24), Some("FATAL"));
        assert_eq!(severity_level(0), None);
        assert_eq!(severity_level(25), None);
        assert_eq!(export_response(0, String::new()).partial_success, None);
        let partial = export_response(2, "why".to_owned()).partial_success.unwrap();
        assert_eq!((partial.rejected_log_records, partial.error_message.as_str()), (2, "why"));
        let (records, rejected, message) = records_from_otlp(ExportLogsServiceRequest::default(), OTLP_INDEX);
        assert!(records.is_empty() && rejected == 0 && message.is_empty());
    }
}

// Pharos — ingest/src/otlp_logs/mod.rs

//! OTLP/JSON logs requests, decoded into the same prost messages as the binary encoding. The JSON
//! mapping's rules and the shared messages (resource, scope, attributes, values) are in
//! [`crate::otlp_json`]; this file has the logs messages.

use pharos_proto::otlp::collector::logs::v1::ExportLogsServiceRequest;
use pharos_proto::otlp::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use serde::Deserialize;

use crate::otlp_json::{
    JsonAnyValue, JsonEnum, JsonHexBytes, JsonKeyValue, JsonResource, JsonScope, JsonU32, JsonU64, attributes, list,
    u64_or_zero,
};

/// Decode an OTLP/JSON `ExportLogsServiceRequest`. An empty body is an empty request.
pub fn decode_json(bytes: &[u8]) -> Result<ExportLogsServiceRequest, String> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(ExportLogsServiceRequest::default());
    }
    let request: JsonExportRequest =
        serde_json::from_slice(bytes).map_err(|error| format!("invalid OTLP/JSON logs request: {error}"))?;
    request.into_proto().map_err(|error| format!("invalid OTLP/JSON logs request: {error}"))
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct JsonExportRequest {
    resource_logs: Option<Vec<JsonResourceLogs>>,
}

impl JsonExportRequest {
    fn into_proto(self) -> Result<ExportLogsServiceRequest, String> {
        Ok(ExportLogsServiceRequest { resource_logs: list(self.resource_logs, JsonResourceLogs::into_proto)? })
    }
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct JsonResourceLogs {
    resource: Option<JsonResource>,
    scope_logs: Option<Vec<JsonScopeLogs>>,
    schema_url: Option<String>,
}

impl JsonResourceLogs {
    fn into_proto(self) -> Result<ResourceLogs, String> {
        Ok(ResourceLogs {
            resource: self.resource.map(JsonResource::into_proto).transpose()?,
            scope_logs: list(self.scope_logs, JsonScopeLogs::into_proto)?,
            schema_url: self.schema_url.unwrap_or_default(),
        })
    }
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct JsonScopeLogs {
    scope: Option<JsonScope>,
    log_records: Option<Vec<JsonLogRecord>>,
    schema_url: Option<String>,
}

impl JsonScopeLogs {
    fn into_proto(self) -> Result<ScopeLogs, String> {
        Ok(ScopeLogs {
            scope: self.scope.map(JsonScope::into_proto).transpose()?,
            log_records: list(self.log_records, JsonLogRecord::into_proto)?,
            schema_url: self.schema_url.unwrap_or_default(),
        })
    }
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct JsonLogRecord {
    time_unix_nano: Option<JsonU64>,
    observed_time_unix_nano: Option<JsonU64>,
    severity_number: Option<JsonEnum>,
    severity_text: Option<String>,
    body: Option<JsonAnyValue>,
    attributes: Option<Vec<JsonKeyValue>>,
    dropped_attributes_count: Option<JsonU32>,
    flags: Option<JsonU32>,
    trace_id: Option<JsonHexBytes>,
    span_id: Option<JsonHexBytes>,
    event_name: Option<String>,
}

impl JsonLogRecord {
    fn into_proto(self) -> Result<LogRecord, String> {
        Ok(LogRecord {
            time_unix_nano: u64_or_zero(self.time_unix_nano),
            observed_time_unix_nano: u64_or_zero(self.observed_time_unix_nano),
            severity_number: self.severity_number.map(|v| v.0).unwrap_or(0),
            severity_text: self.severity_text.unwrap_or_default(),
            body: self.body.map(JsonAnyValue::into_proto).transpose()?,
            attributes: attributes(self.attributes)?,
            dropped_attributes_count: self.dropped_attributes_count.map(|v| v.0).unwrap_or(0),
            flags: self.flags.map(|v| v.0).unwrap_or(0),
            trace_id: self.trace_id.map(|v| v.0).unwrap_or_default(),
            span_id: self.span_id.map(|v| v.0).unwrap_or_default(),
            event_name: self.event_name.unwrap_or_default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pharos_proto::otlp::common::v1::any_value::Value;

    #[test]
    fn a_log_record_in_otlp_json_decodes_to_its_proto() {
        let body = br#"{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"checkout"}}]},
            "scopeLogs":[{"scope":{"name":"app"},"logRecords":[{"timeUnixNano":"1700000000000000001","observedTimeUnixNano":1700000000000000002,
            "severityNumber":17,"severityText":"ERROR","body":{"stringValue":"payment failed"},
            "attributes":[{"key":"order.id","value":{"intValue":"42"}}],"flags":1,
            "traceId":"5B8EFFF798038103D269B633813FC60C","spanId":"EEE19B7EC3C1B174","eventName":"payment","unknownKey":true}]}]}]}"#;
        let request = decode_json(body).unwrap();
        let record = &request.resource_logs[0].scope_logs[0].log_records[0];
        assert_eq!(record.time_unix_nano, 1_700_000_000_000_000_001);
        assert_eq!(record.observed_time_unix_nano, 1_700_000_000_000_000_002);
        assert_eq!((record.severity_number, record.severity_text.as_str()), (17, "ERROR"));
        assert_eq!(record.body.as_ref().unwrap().value, Some(Value::StringValue("payment failed".into())));
        assert_eq!(record.attributes[0].value.as_ref().unwrap().value, Some(Value::IntValue(42)));
        assert_eq!(record.trace_id.len(), 16);
        assert_eq!(record.span_id, vec![0xee, 0xe1, 0x9b, 0x7e, 0xc3, 0xc1, 0xb1, 0x74]);
        assert_eq!(record.event_name, "payment");
        assert_eq!(request.resource_logs[0].scope_logs[0].scope.as_ref().unwrap().name, "app");
    }

    #[test]
    fn malformed_requests_are_refused_with_a_reason() {
        assert!(decode_json(b"").unwrap().resource_logs.is_empty());
        let err = decode_json(br#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"traceId":"xyz"}]}]}]}"#).unwrap_err();
        assert!(err.starts_with("invalid OTLP/JSON logs request"), "{err}");
        let err = decode_json(br#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"severityNumber":"SEVERITY_NUMBER_INFO"}]}]}]}"#)
            .unwrap_err();
        assert!(err.contains("integer"), "{err}");
    }
}

// Pharos — ingest/src/otlp_logs/json.rs

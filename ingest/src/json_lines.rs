//! A plain JSON-lines log endpoint: `POST /api/v1/logs/jsonlines?index=<name>&message_field=<f>&time_field=<f>`
//! (defaults: index `logs`, message field `message`, time field `@timestamp`).
//!
//! Each non-blank line (`\n`-separated, `\r\n` tolerated) is one record:
//! - A line starting with `{` must be a JSON object (else it is rejected). Its timestamp is the time
//!   field: RFC 3339, or an epoch number (JSON number or digit string) whose unit is guessed from its
//!   magnitude (seconds < 1e11 ≤ milliseconds < 1e14 ≤ microseconds < 1e17 ≤ nanoseconds); an
//!   unreadable time field rejects the line, a missing one means the receive time. When
//!   `message_field` is not `message` and the object has that field, its value is copied to
//!   `message` (overwriting one already there) and `source` becomes the re-serialized object, so
//!   that `source` and `doc` always agree; otherwise `source` is the line verbatim.
//! - Any other line is plain text: `{"@timestamp": <receive time>, "message": <line>}`.
//! - Lines longer than [`JsonLinesConfig::max_line_bytes`] (10 MiB) or not UTF-8 are rejected.
//!
//! Labels: `index`, plus `service_name` when the object names a service (as for `_bulk`).
//! Answer: `{"accepted":n,"rejected":m,"errors":[{"line":k,"reason":…}]}` (line numbers count every
//! physical line from 1; at most [`JsonLinesConfig::max_errors_reported`] errors are listed) with
//! 200 when something was accepted or nothing rejected, 400 when every line was rejected. A bad
//! `index` parameter is a 400 `{"error":…}`; a failing sink is a 503 `{"error":…}` with
//! `Retry-After: 1`, nothing counted as accepted.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use pharos_proto::DecodedBody;
use serde_json::{Map, Value, json};

use crate::log_document::{format_rfc3339_nanos, guess_epoch_timestamp, index_labels, now_nanos, push_json_str};
use pharos_storage::logs::{LogRecord, validate_index_name};
use crate::log_sink::{LogSink, run_blocking, store};

/// Settings of the JSON-lines endpoint.
#[derive(Clone, Debug)]
pub struct JsonLinesConfig {
    /// Index used when the request names none.
    pub default_index: String,
    /// Longest accepted line.
    pub max_line_bytes: usize,
    /// How many per-line errors the answer lists at most (the count is always complete).
    pub max_errors_reported: usize,
}

impl Default for JsonLinesConfig {
    fn default() -> Self {
        Self {
            default_index: "logs".to_owned(),
            max_line_bytes: 10 * 1024 * 1024,
            max_errors_reported: 100,
        }
    }
}

struct JsonLinesState {
    sink: Arc<dyn LogSink>,
    config: JsonLinesConfig,
}

/// The router serving `POST /api/v1/logs/jsonlines`.
pub fn router(sink: Arc<dyn LogSink>, config: JsonLinesConfig) -> Router {
    Router::new()
        .route("/api/v1/logs/jsonlines", post(ingest))
        .with_state(Arc::new(JsonLinesState { sink, config }))
}

/// Request parameters.
struct Params {
    index: String,
    message_field: String,
    time_field: String,
}

/// The outcome of parsing a body.
struct Parsed {
    records: Vec<LogRecord>,
    rejected: usize,
    errors: Vec<(usize, String)>,
}

fn parse_line(line: &str, params: &Params, received: i64) -> Result<LogRecord, String> {
    let trimmed = line.trim();
    if !trimmed.starts_with('{') {
        let timestamp = format_rfc3339_nanos(received);
        let mut source = String::with_capacity(trimmed.len() + 64);
        source.push_str("{\"@timestamp\":");
        push_json_str(&mut source, &timestamp);
        source.push_str(",\"message\":");
        push_json_str(&mut source, line.trim_end());
        source.push('}');
        let mut doc = Map::new();
        doc.insert("@timestamp".into(), Value::String(timestamp));
        doc.insert("message".into(), Value::String(line.trim_end().to_owned()));
        let labels = index_labels(&params.index, &doc);
        return Ok(LogRecord { index: params.index.clone(), timestamp_nanos: received, labels, source, doc });
    }
    let mut doc: Map<String, Value> = serde_json::from_str(trimmed).map_err(|e| format!("invalid JSON object: {e}"))?;
    let timestamp_nanos = match doc.get(&params.time_field) {
        None | Some(Value::Null) => received,
        Some(v) => {
            guess_epoch_timestamp(v).ok_or_else(|| format!("cannot parse time field [{}]: {v}", params.time_field))?
        }
    };
    let mut source = None;
    if params.message_field != "message"
        && let Some(message) = doc.get(&params.message_field).cloned()
    {
        doc.insert("message".into(), message);
        source = serde_json::to_string(&doc).ok();
    }
    let labels = index_labels(&params.index, &doc);
    let source = source.unwrap_or_else(|| trimmed.to_owned());
    Ok(LogRecord { index: params.index.clone(), timestamp_nanos, labels, source, doc })
}

fn parse_body(body: &[u8], params: &Params, config: &JsonLinesConfig, received: i64) -> Parsed {
    let mut parsed = Parsed { records: Vec::new(), rejected: 0, errors: Vec::new() };
    let reject = |parsed: &mut Parsed, number: usize, reason: String| {
        parsed.rejected += 1;
        if parsed.errors.len() < config.max_errors_reported {
            parsed.errors.push((number, reason));
        }
    };
    for (i, raw) in body.split(|&b| b == b'\n').enumerate() {
        let number = i + 1;
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        if raw.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        if raw.len() > config.max_line_bytes {
            let reason = format!("line of {} bytes exceeds the limit of {} bytes", raw.len(), config.max_line_bytes);
            reject(&mut parsed, number, reason);
            continue;
        }
        let Ok(line) = std::str::from_utf8(raw) else {
            reject(&mut parsed, number, "line is not valid UTF-8".to_owned());
            continue;
        };
        match parse_line(line, params, received) {
            Ok(record) => parsed.records.push(record),
            Err(reason) => reject(&mut parsed, number, reason),
        }
    }
    parsed
}

fn error_response(status: StatusCode, message: String) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

async fn ingest(State(st): State<Arc<JsonLinesState>>, RawQuery(query): RawQuery, DecodedBody { bytes: body, .. }: DecodedBody) -> Response {
    let mut params = Params {
        index: st.config.default_index.clone(),
        message_field: "message".to_owned(),
        time_field: "@timestamp".to_owned(),
    };
    for (k, v) in form_urlencoded::parse(query.as_deref().unwrap_or("").as_bytes()) {
        let v = v.trim();
        match &*k {
            "index" if !v.is_empty() => params.index = v.to_owned(),
            "message_field" if !v.is_empty() => params.message_field = v.to_owned(),
            "time_field" if !v.is_empty() => params.time_field = v.to_owned(),
            _ => {}
        }
    }
    if let Err(reason) = validate_index_name(&params.index) {
        return error_response(StatusCode::BAD_REQUEST, reason);
    }
    let state = st.clone();
    let outcome = run_blocking(move || {
        let parsed = parse_body(&body, &params, &state.config, now_nanos());
        let accepted = parsed.records.len();
        store(state.sink.as_ref(), parsed.records, false).map(|()| (accepted, parsed.rejected, parsed.errors))
    })
    .await
    .and_then(|r| r);
    match outcome {
        Ok((accepted, rejected, errors)) => {
            let status = if accepted > 0 || rejected == 0 { StatusCode::OK } else { StatusCode::BAD_REQUEST };
            let errors: Vec<Value> =
                errors.into_iter().map(|(line, reason)| json!({"line": line, "reason": reason})).collect();
            (status, Json(json!({"accepted": accepted, "rejected": rejected, "errors": errors}))).into_response()
        }
        Err(reason) => {
            let mut response =
                error_response(StatusCode::SERVICE_UNAVAILABLE, format!("storage unavailable: {reason}"));
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            response
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log_sink::MemorySink;
    use axum::body::Body;
    use axum::http::Request;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    async fn post(app: &Router, uri: &str, body: &str) -> (StatusCode, Value) {
        let request = Request::post(uri).body(Body::from(body.to_owned())).unwrap();
        let response = app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    #[tokio::test]
    async fn objects_text_lines_and_errors() {
        let sink = MemorySink::new();
        let app = router(sink.clone(), JsonLinesConfig::default());
        let body = concat!(
            "{\"@timestamp\":\"2024-05-01T10:00:00Z\",\"message\":\"hello\",\"service.name\":\"web\"}\n",
            "\n",
            "plain text line\r\n",
            "{\"broken\": \n",
            "{\"@timestamp\":\"not a time\"}\n",
            "{\"message\":\"no time\"}",
        );
        let (status, v) = post(&app, "/api/v1/logs/jsonlines", body).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(v["accepted"], 3);
        assert_eq!(v["rejected"], 2);
        assert_eq!(v["errors"][0]["line"], 4);
        assert!(v["errors"][0]["reason"].as_str().unwrap().starts_with("invalid JSON object"));
        assert_eq!(v["errors"][1]["line"], 5);
        assert!(v["errors"][1]["reason"].as_str().unwrap().contains("cannot parse time field [@timestamp]"));
        let records = sink.records();
        assert_eq!(records.len(), 3);
        assert_eq!(records[0].index, "logs");
        assert_eq!(records[0].timestamp_nanos, 1_714_557_600_000_000_000);
        assert_eq!(records[0].labels[1], ("service_name".to_owned(), "web".to_owned()));
        assert_eq!(
            records[0].source,
            "{\"@timestamp\":\"2024-05-01T10:00:00Z\",\"message\":\"hello\",\"service.name\":\"web\"}"
        );
        assert_eq!(records[1].doc["message"], "plain text line");
        let reparsed: Map<String, Value> = serde_json::from_str(&records[1].source).unwrap();
        assert_eq!(reparsed, records[1].doc);
        assert_eq!(records[1].labels, vec![("index".to_owned(), "logs".to_owned())]);
        let age = now_nanos() - records[2].timestamp_nanos;
        assert!((0..60_000_000_000).contains(&age), "receive time used");
    }

    #[tokio::test]
    async fn custom_fields_and_index() {
        let sink = MemorySink::new();
        let app = router(sink.clone(), JsonLinesConfig::default());
        let body =
            "{\"ts\":1714557600,\"msg\":\"copied\",\"message\":\"old\"}\n{\"ts\":\"1714557600123\",\"other\":1}\n";
        let (status, v) = post(&app, "/api/v1/logs/jsonlines?index=app&message_field=msg&time_field=ts", body).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(v, json!({"accepted": 2, "rejected": 0, "errors": []}));
        let records = sink.records();
        assert_eq!(records[0].index, "app");
        assert_eq!(records[0].timestamp_nanos, 1_714_557_600_000_000_000);
        assert_eq!(records[0].doc["message"], "copied");
        assert_eq!(serde_json::from_str::<Map<String, Value>>(&records[0].source).unwrap(), records[0].doc);
        assert_eq!(records[1].timestamp_nanos, 1_714_557_600_123_000_000);
        assert_eq!(records[1].source, "{\"ts\":\"1714557600123\",\"other\":1}", "unchanged lines stay verbatim");
    }

    #[tokio::test]
    async fn all_rejected_bad_index_and_storage_failure() {
        let sink = MemorySink::new();
        let app = router(sink.clone(), JsonLinesConfig { max_line_bytes: 10, ..JsonLinesConfig::default() });
        let (status, v) = post(&app, "/api/v1/logs/jsonlines", "{\"a\":\"far too long\"}\n{nope\n").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(v["accepted"], 0);
        assert_eq!(v["rejected"], 2);
        assert!(v["errors"][0]["reason"].as_str().unwrap().contains("exceeds the limit of 10 bytes"));
        let (status, v) = post(&app, "/api/v1/logs/jsonlines?index=Bad", "x\n").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(v["error"], "Invalid index name [Bad], must be lowercase");
        let (status, v) = post(&app, "/api/v1/logs/jsonlines", "").await;
        assert_eq!((status, v), (StatusCode::OK, json!({"accepted": 0, "rejected": 0, "errors": []})));
        sink.fail_with(Some("wal closed"));
        let (status, v) = post(&app, "/api/v1/logs/jsonlines", "ok\n").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(v["error"].as_str().unwrap().contains("wal closed"));
    }
}

// Pharos — ingest/src/json_lines.rs

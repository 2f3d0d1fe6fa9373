//! Loki push: `POST /loki/api/v1/push` (`shared/specs/logs-api.md` §4).
//!
//! - `Content-Type: application/json` (parameters such as `charset` allowed):
//!   `{"streams":[{"stream":{"k":"v"},"values":[["<ns>","line",{"meta":"v"}?]]}]}`; the timestamp must
//!   be a string of nanoseconds (a number is a 400, as in Loki); label and metadata values strings.
//! - Anything else (Loki's default, sent as `application/x-protobuf`): a snappy **block**-compressed
//!   [`proto::PushRequest`]. A body that is not snappy but decodes as a plain protobuf is accepted
//!   too (for plumbing that already decoded it). `Content-Encoding` gzip/deflate/zstd is removed
//!   before this handler; `Content-Encoding: snappy` on a JSON body is honoured.
//!
//! Stream labels are a Loki selector text (`{a="b", c="d"}`, Go-quoted or back-quoted values; only
//! `=`) parsed by [`parse_labels`], or the JSON `stream` object. Label names must match
//! `[a-zA-Z_][a-zA-Z0-9_]*`; empty values are dropped (Prometheus semantics); duplicate names and an
//! empty set are errors.
//!
//! Records: index [`LOKI_INDEX`], labels = the stream labels sorted (nothing added), timestamp the
//! entry's, `source` = `{"@timestamp":"<RFC 3339 ns>","message":<line>,<structured metadata>…}`
//! written as text (metadata keys colliding with earlier keys are skipped), `doc` = the same object.
//!
//! Answers, as Loki gives them: 204 on success; `text/plain` 400 otherwise. As in Loki's
//! distributor, entries of valid streams are stored even when other streams or entries fail, and
//! the 400 names the first failure (`"<n> errors like: <first>"` when several): `Error parsing
//! labels '<labels>' with error: <why>`, `error at least one label pair is required per stream`,
//! `stream '<labels>' has duplicate label name: '<name>'`, `Max entry size '<max>' bytes exceeded for
//! stream '<labels>' while adding an entry with length '<len>' bytes` (limit
//! [`LokiConfig::max_line_bytes`], Loki's default 256 KiB), an entry without timestamp. A body that
//! cannot be decoded at all is a 400 with nothing stored; a failing sink a `text/plain` 503 with
//! `Retry-After: 1` (Promtail, Alloy and the Loki clients retry 5xx).

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use pharos_proto::DecodedBody;
use prost::Message;
use serde::Deserialize;
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde_json::{Map, Value};

use crate::log_document::{format_rfc3339_nanos, push_json_str};
use crate::log_sink::{LogSink, run_blocking, store};
use pharos_storage::logs::LogRecord;

/// The index Loki-pushed records are stored in.
pub const LOKI_INDEX: &str = "loki";

/// Loki's push protobuf (`pkg/push/push.proto`), as sent on the wire.
pub mod proto {
    /// `PushRequest{streams=1}`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct PushRequest {
        #[prost(message, repeated, tag = "1")]
        pub streams: Vec<StreamAdapter>,
    }

    /// `StreamAdapter{labels=1, entries=2, hash=3}`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct StreamAdapter {
        #[prost(string, tag = "1")]
        pub labels: String,
        #[prost(message, repeated, tag = "2")]
        pub entries: Vec<EntryAdapter>,
        #[prost(uint64, tag = "3")]
        pub hash: u64,
    }

    /// `EntryAdapter{timestamp=1, line=2, structuredMetadata=3}`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct EntryAdapter {
        #[prost(message, optional, tag = "1")]
        pub timestamp: Option<Timestamp>,
        #[prost(string, tag = "2")]
        pub line: String,
        #[prost(message, repeated, tag = "3")]
        pub structured_metadata: Vec<LabelPairAdapter>,
    }

    /// `LabelPairAdapter{name=1, value=2}`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct LabelPairAdapter {
        #[prost(string, tag = "1")]
        pub name: String,
        #[prost(string, tag = "2")]
        pub value: String,
    }

    /// `google.protobuf.Timestamp{seconds=1, nanos=2}`.
    #[derive(Clone, Copy, PartialEq, prost::Message)]
    pub struct Timestamp {
        #[prost(int64, tag = "1")]
        pub seconds: i64,
        #[prost(int32, tag = "2")]
        pub nanos: i32,
    }
}

/// Settings of the Loki push endpoint.
#[derive(Clone, Debug)]
pub struct LokiConfig {
    /// Longest accepted line (Loki's `max_line_size`); longer entries fail.
    pub max_line_bytes: usize,
}

impl Default for LokiConfig {
    fn default() -> Self {
        Self { max_line_bytes: 256 * 1024 }
    }
}

struct LokiState {
    sink: Arc<dyn LogSink>,
    config: LokiConfig,
}

/// The router serving `POST /loki/api/v1/push`.
pub fn router(sink: Arc<dyn LogSink>, config: LokiConfig) -> Router {
    Router::new().route("/loki/api/v1/push", post(push)).with_state(Arc::new(LokiState { sink, config }))
}

// ---------------------------------------------------------------------------------------------
// Labels

struct LabelParser<'a> {
    text: &'a str,
    pos: usize,
}

impl LabelParser<'_> {
    fn error(&self, what: impl std::fmt::Display) -> String {
        format!("1:{}: parse error: {what}", self.pos + 1)
    }

    fn skip_ws(&mut self) {
        while let Some(c) = self.text[self.pos..].chars().next().filter(|c| c.is_whitespace()) {
            self.pos += c.len_utf8();
        }
    }

    fn peek(&self) -> Option<char> {
        self.text[self.pos..].chars().next()
    }

    fn name(&mut self) -> Result<String, String> {
        let start = self.pos;
        while let Some(c) = self.peek().filter(|c| c.is_ascii_alphanumeric() || *c == '_') {
            self.pos += c.len_utf8();
        }
        let name = &self.text[start..self.pos];
        if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
            self.pos = start;
            return Err(match self.peek() {
                Some(c) => self.error(format!("unexpected character {c:?}, expected a label name")),
                None => self.error("unexpected end of input, expected a label name"),
            });
        }
        Ok(name.to_owned())
    }

    fn hex(&mut self, digits: usize) -> Result<u32, String> {
        let part = self.text.get(self.pos..self.pos + digits).filter(|p| p.bytes().all(|b| b.is_ascii_hexdigit()));
        let part = part.ok_or_else(|| self.error("invalid escape sequence"))?;
        self.pos += digits;
        Ok(u32::from_str_radix(part, 16).unwrap_or(0))
    }

    /// A Go double-quoted string (all of Go's escapes) or a back-quoted raw string.
    fn string(&mut self) -> Result<String, String> {
        let start = self.pos;
        let quote = match self.peek() {
            Some(q @ ('"' | '`')) => q,
            Some(c) => return Err(self.error(format!("unexpected character {c:?}, expected a quoted string"))),
            None => return Err(self.error("unexpected end of input, expected a quoted string")),
        };
        self.pos += 1;
        let mut bytes = Vec::new();
        loop {
            let Some(c) = self.peek() else {
                self.pos = start;
                return Err(self.error("unterminated quoted string"));
            };
            self.pos += c.len_utf8();
            if c == quote {
                break;
            }
            if c != '\\' || quote == '`' {
                if c == '\n' && quote == '"' {
                    self.pos = start;
                    return Err(self.error("unterminated quoted string"));
                }
                bytes.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
                continue;
            }
            let Some(e) = self.peek() else {
                self.pos = start;
                return Err(self.error("unterminated quoted string"));
            };
            self.pos += e.len_utf8();
            match e {
                'a' => bytes.push(7),
                'b' => bytes.push(8),
                'f' => bytes.push(12),
                'n' => bytes.push(b'\n'),
                'r' => bytes.push(b'\r'),
                't' => bytes.push(b'\t'),
                'v' => bytes.push(11),
                '\\' => bytes.push(b'\\'),
                '"' => bytes.push(b'"'),
                'x' => bytes.push(self.hex(2)? as u8),
                '0'..='7' => {
                    let digits = self.text.get(self.pos - 1..self.pos + 2).unwrap_or("");
                    if digits.len() != 3 || !digits.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
                        return Err(self.error("invalid escape sequence"));
                    }
                    let value = u32::from_str_radix(digits, 8).unwrap_or(256);
                    if value > 255 {
                        return Err(self.error("invalid escape sequence"));
                    }
                    self.pos += 2;
                    bytes.push(value as u8);
                }
                'u' | 'U' => {
                    let code = self.hex(if e == 'u' { 4 } else { 8 })?;
                    let c = char::from_u32(code).ok_or_else(|| self.error("invalid escape sequence"))?;
                    bytes.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
                }
                _ => return Err(self.error("invalid escape sequence")),
            }
        }
        String::from_utf8(bytes).map_err(|_| self.error("invalid UTF-8 in quoted string"))
    }
}

/// Validates and sorts a label set: names `[a-zA-Z_][a-zA-Z0-9_]*`, empty values dropped, names
/// unique, at least one label. `display` names the stream in errors.
fn finish_labels(mut labels: Vec<(String, String)>, display: &str) -> Result<Vec<(String, String)>, String> {
    if let Some((name, _)) = labels.iter().find(|(n, _)| !pharos_proto::names::is_label_name(n)) {
        return Err(format!("Error parsing labels '{display}' with error: invalid label name {name:?}"));
    }
    labels.retain(|(_, v)| !v.is_empty());
    labels.sort();
    if let Some(w) = labels.windows(2).find(|w| w[0].0 == w[1].0) {
        return Err(format!("stream '{display}' has duplicate label name: '{}'", w[0].0));
    }
    if labels.is_empty() {
        return Err("error at least one label pair is required per stream".to_owned());
    }
    Ok(labels)
}

/// Parses a Loki stream selector such as `{app="web", env=`prod`}` into labels sorted by name
/// (validated as described in the module docs). Errors are worded as Loki words them.
pub fn parse_labels(text: &str) -> Result<Vec<(String, String)>, String> {
    let wrap = |e: String| format!("Error parsing labels '{text}' with error: {e}");
    let mut p = LabelParser { text, pos: 0 };
    let mut labels = Vec::new();
    p.skip_ws();
    if p.peek() != Some('{') {
        return Err(wrap(p.error("expected '{'")));
    }
    p.pos += 1;
    loop {
        p.skip_ws();
        if p.peek() == Some('}') {
            p.pos += 1;
            break;
        }
        let name = p.name().map_err(wrap)?;
        p.skip_ws();
        match (p.peek(), p.text[p.pos..].chars().nth(1)) {
            (Some('='), Some('~')) | (Some('!'), _) => {
                return Err(wrap(p.error("only equality matchers (=) are allowed in stream labels")));
            }
            (Some('='), _) => p.pos += 1,
            (Some(c), _) => return Err(wrap(p.error(format!("unexpected character {c:?}, expected '='")))),
            (None, _) => return Err(wrap(p.error("unexpected end of input, expected '='"))),
        }
        p.skip_ws();
        let value = p.string().map_err(wrap)?;
        labels.push((name, value));
        p.skip_ws();
        match p.peek() {
            Some(',') => p.pos += 1,
            Some('}') => {}
            Some(c) => return Err(wrap(p.error(format!("unexpected character {c:?}, expected ',' or '}}'")))),
            None => return Err(wrap(p.error("unexpected end of input, expected '}'"))),
        }
    }
    p.skip_ws();
    if p.pos != text.len() {
        return Err(wrap(p.error("unexpected input after '}'")));
    }
    finish_labels(labels, text)
}

fn render_labels(labels: &[(String, String)]) -> String {
    let mut out = String::from("{");
    for (i, (k, v)) in labels.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(k);
        out.push('=');
        push_json_str(&mut out, v);
    }
    out.push('}');
    out
}

// ---------------------------------------------------------------------------------------------
// Decoding

/// A pushed stream in either encoding.
struct Stream {
    /// How errors name the stream.
    display: String,
    labels: Result<Vec<(String, String)>, String>,
    entries: Vec<Entry>,
}

struct Entry {
    timestamp_nanos: Option<i64>,
    line: String,
    metadata: Vec<(String, String)>,
}

/// One label of a JSON `stream` object (kept as a list so that duplicates are seen).
struct JsonLabel(String, String);

fn deserialize_labels<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<JsonLabel>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Vec<JsonLabel>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("an object of string label values")
        }
        fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some((k, v)) = map.next_entry::<String, String>()? {
                out.push(JsonLabel(k, v));
            }
            Ok(out)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }
    }
    deserializer.deserialize_any(V)
}

#[derive(Deserialize)]
struct JsonStreamRaw {
    #[serde(default, deserialize_with = "deserialize_labels")]
    stream: Vec<JsonLabel>,
    #[serde(default)]
    values: Vec<JsonEntry>,
}

#[derive(Deserialize)]
struct JsonPushRaw {
    #[serde(default)]
    streams: Vec<JsonStreamRaw>,
}

/// `["<ns>", "line", {metadata}?]`.
struct JsonEntry {
    timestamp_nanos: i64,
    line: String,
    metadata: Vec<(String, String)>,
}

impl<'de> Deserialize<'de> for JsonEntry {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = JsonEntry;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an entry [\"<unix epoch in nanoseconds>\", \"<log line>\", {structured metadata}?]")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<JsonEntry, A::Error> {
                let ts: Value = seq.next_element()?.ok_or_else(|| de::Error::custom("entry has no timestamp"))?;
                let Value::String(ts) = ts else {
                    return Err(de::Error::custom(format!(
                        "timestamp must be a string of nanoseconds since the epoch, found {ts}"
                    )));
                };
                let timestamp_nanos = ts.parse::<i64>().map_err(|_| {
                    de::Error::custom(format!(
                        "timestamp must be a string of nanoseconds since the epoch, found {ts:?}"
                    ))
                })?;
                let line: String = seq.next_element()?.ok_or_else(|| de::Error::custom("entry has no log line"))?;
                let metadata: Option<Map<String, Value>> = seq.next_element::<Option<Map<String, Value>>>()?.flatten();
                if seq.next_element::<de::IgnoredAny>()?.is_some() {
                    return Err(de::Error::custom("entry has more than 3 elements"));
                }
                let mut pairs = Vec::new();
                for (k, v) in metadata.unwrap_or_default() {
                    match v {
                        Value::String(s) => pairs.push((k, s)),
                        other => {
                            return Err(de::Error::custom(format!(
                                "structured metadata value of {k:?} must be a string, found {other}"
                            )));
                        }
                    }
                }
                Ok(JsonEntry { timestamp_nanos, line, metadata: pairs })
            }
        }
        deserializer.deserialize_seq(V)
    }
}

fn decode_json(body: &[u8]) -> Result<Vec<Stream>, String> {
    let push: JsonPushRaw = serde_json::from_slice(body).map_err(|e| format!("error parsing push request: {e}"))?;
    Ok(push
        .streams
        .into_iter()
        .map(|s| {
            let pairs: Vec<(String, String)> = s.stream.into_iter().map(|JsonLabel(k, v)| (k, v)).collect();
            let display = render_labels(&pairs);
            Stream {
                labels: finish_labels(pairs, &display),
                display,
                entries: s
                    .values
                    .into_iter()
                    .map(|e| Entry { timestamp_nanos: Some(e.timestamp_nanos), line: e.line, metadata: e.metadata })
                    .collect(),
            }
        })
        .collect())
}

fn decode_protobuf(body: &[u8]) -> Result<Vec<Stream>, String> {
    let request = match snap::raw::Decoder::new().decompress_vec(body) {
        Ok(raw) => proto::PushRequest::decode(raw.as_slice())
            .map_err(|e| format!("error unmarshalling protobuf push request: {e}"))?,
        Err(snappy) => proto::PushRequest::decode(body)
            .map_err(|_| format!("error decompressing snappy-compressed protobuf push request: {snappy}"))?,
    };
    Ok(request
        .streams
        .into_iter()
        .map(|s| Stream {
            labels: parse_labels(&s.labels),
            display: s.labels,
            entries: s
                .entries
                .into_iter()
                .map(|e| Entry {
                    timestamp_nanos: e
                        .timestamp
                        .and_then(|t| t.seconds.checked_mul(1_000_000_000)?.checked_add(i64::from(t.nanos))),
                    line: e.line,
                    metadata: e.structured_metadata.into_iter().map(|p| (p.name, p.value)).collect(),
                })
                .collect(),
        })
        .collect())
}

fn build_record(
    labels: &[(String, String)],
    timestamp_nanos: i64,
    line: String,
    metadata: Vec<(String, String)>,
) -> LogRecord {
    let timestamp = format_rfc3339_nanos(timestamp_nanos);
    let mut source = String::with_capacity(line.len() + 64);
    source.push_str("{\"@timestamp\":");
    push_json_str(&mut source, &timestamp);
    source.push_str(",\"message\":");
    push_json_str(&mut source, &line);
    let mut doc = Map::new();
    doc.insert("@timestamp".into(), Value::String(timestamp));
    doc.insert("message".into(), Value::String(line));
    for (k, v) in metadata {
        if doc.contains_key(&k) {
            continue;
        }
        source.push(',');
        push_json_str(&mut source, &k);
        source.push(':');
        push_json_str(&mut source, &v);
        doc.insert(k, Value::String(v));
    }
    source.push('}');
    LogRecord { index: LOKI_INDEX.to_owned(), timestamp_nanos, labels: labels.to_vec(), source, doc }
}

/// Records of the valid entries, and the errors of the others.
fn records_from_streams(streams: Vec<Stream>, max_line_bytes: usize) -> (Vec<LogRecord>, Vec<String>) {
    let mut records = Vec::new();
    let mut errors = Vec::new();
    for stream in streams {
        let labels = match stream.labels {
            Ok(labels) => labels,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        for entry in stream.entries {
            if entry.line.len() > max_line_bytes {
                errors.push(format!(
                    "Max entry size '{max_line_bytes}' bytes exceeded for stream '{}' while adding an entry with length '{}' bytes",
                    stream.display,
                    entry.line.len()
                ));
                continue;
            }
            let Some(ts) = entry.timestamp_nanos else {
                errors.push(format!("entry for stream '{}' has no timestamp", stream.display));
                continue;
            };
            records.push(build_record(&labels, ts, entry.line, entry.metadata));
        }
    }
    (records, errors)
}

fn media_type(headers: &HeaderMap, name: header::HeaderName) -> String {
    let value = headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("");
    value.split(';').next().unwrap_or("").trim().to_ascii_lowercase()
}

fn text(status: StatusCode, message: String) -> Response {
    (status, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], message + "\n").into_response()
}

enum Outcome {
    Stored(Vec<String>),
    BadRequest(String),
    Storage(String),
}

async fn push(
    State(st): State<Arc<LokiState>>,
    headers: HeaderMap,
    DecodedBody { bytes: body, .. }: DecodedBody,
) -> Response {
    let json = media_type(&headers, header::CONTENT_TYPE) == "application/json";
    let snappy_json = json && media_type(&headers, header::CONTENT_ENCODING) == "snappy";
    let state = st.clone();
    let outcome = run_blocking(move || {
        let decoded = if snappy_json {
            snap::raw::Decoder::new()
                .decompress_vec(&body)
                .map_err(|e| format!("error decompressing snappy body: {e}"))
                .and_then(|raw| decode_json(&raw))
        } else if json {
            decode_json(&body)
        } else {
            decode_protobuf(&body)
        };
        let streams = match decoded {
            Ok(streams) => streams,
            Err(e) => return Outcome::BadRequest(e),
        };
        let (records, errors) = records_from_streams(streams, state.config.max_line_bytes);
        match store(state.sink.as_ref(), records, false) {
            Ok(()) => Outcome::Stored(errors),
            Err(e) => Outcome::Storage(e),
        }
    })
    .await
    .unwrap_or_else(Outcome::Storage);
    match outcome {
        Outcome::Stored(errors) if errors.is_empty() => StatusCode::NO_CONTENT.into_response(),
        Outcome::Stored(errors) if errors.len() == 1 => text(StatusCode::BAD_REQUEST, errors[0].clone()),
        Outcome::Stored(errors) => {
            text(StatusCode::BAD_REQUEST, format!("{} errors like: {}", errors.len(), errors[0]))
        }
        Outcome::BadRequest(e) => text(StatusCode::BAD_REQUEST, e),
        Outcome::Storage(e) => {
            let mut response = text(StatusCode::SERVICE_UNAVAILABLE, format!("storage unavailable: {e}"));
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            response
        }
    }
}

#[cfg(test)]
mod tests {
    use super::proto::*;
    use super::*;
    use crate::log_sink::MemorySink;
    use axum::body::Body;
    use axum::http::Request;
    use http_body_util::BodyExt;
    use serde_json::json;
    use tower::ServiceExt;

    async fn send(app: &Router, content_type: &str, body: Vec<u8>) -> (StatusCode, String) {
        let request =
            Request::post("/loki/api/v1/push").header("content-type", content_type).body(Body::from(body)).unwrap();
        let response = app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8(bytes.to_vec()).unwrap())
    }

    fn owned(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[tokio::test]
    async fn json_push() {
        let sink = MemorySink::new();
        let app = router(sink.clone(), LokiConfig::default());
        let body = json!({"streams": [{
            "stream": {"job": "varlogs", "app": "web", "empty": ""},
            "values": [
                ["1714557600000000001", "first line"],
                ["1714557600500000000", "second \"quoted\"", {"trace_id": "abc", "message": "collides"}],
            ],
        }]});
        let (status, text) = send(&app, "application/json; charset=utf-8", body.to_string().into_bytes()).await;
        assert_eq!((status, text.as_str()), (StatusCode::NO_CONTENT, ""));
        let records = sink.records();
        assert_eq!(records.len(), 2);
        assert_eq!(records[0].index, "loki");
        assert_eq!(records[0].labels, owned(&[("app", "web"), ("job", "varlogs")]));
        assert_eq!(records[0].timestamp_nanos, 1_714_557_600_000_000_001);
        assert_eq!(records[0].source, "{\"@timestamp\":\"2024-05-01T10:00:00.000000001Z\",\"message\":\"first line\"}");
        assert_eq!(
            records[1].source,
            "{\"@timestamp\":\"2024-05-01T10:00:00.500000000Z\",\"message\":\"second \\\"quoted\\\"\",\"trace_id\":\"abc\"}"
        );
        assert_eq!(records[1].doc, serde_json::from_str::<Map<String, Value>>(&records[1].source).unwrap());
        assert_eq!(records[1].doc["trace_id"], "abc");
    }

    #[tokio::test]
    async fn json_rejections() {
        let sink = MemorySink::new();
        let app = router(sink.clone(), LokiConfig::default());
        let numeric = json!({"streams": [{"stream": {"a": "b"}, "values": [[1714557600000000000u64, "x"]]}]});
        let (status, text) = send(&app, "application/json", numeric.to_string().into_bytes()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(text.contains("timestamp must be a string"), "{text}");
        let (status, text) = send(
            &app,
            "application/json",
            b"{\"streams\":[{\"stream\":{\"a\":\"b\"},\"values\":[[\"soon\",\"x\"]]}]}".to_vec(),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(text.contains("nanoseconds"), "{text}");
        // A stream without labels fails; the valid stream of the same push is still stored.
        let mixed = json!({"streams": [
            {"stream": {}, "values": [["1", "lost"]]},
            {"stream": {"a": "b"}, "values": [["2", "kept"]]},
            {"stream": {"bad-name": "x"}, "values": [["3", "lost"]]},
        ]});
        let (status, text) = send(&app, "application/json", mixed.to_string().into_bytes()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(text, "2 errors like: error at least one label pair is required per stream\n");
        assert_eq!(sink.records().len(), 1);
        assert_eq!(sink.records()[0].doc["message"], "kept");
        let (status, _) = send(&app, "application/json", b"{not json".to_vec()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }

    fn push_request() -> PushRequest {
        PushRequest {
            streams: vec![StreamAdapter {
                labels: "{job=\"promtail\", host=`h1`, msg=\"tab\\there \\u00e9\\x41\\101\"}".to_owned(),
                entries: vec![
                    EntryAdapter {
                        timestamp: Some(Timestamp { seconds: 1_714_557_600, nanos: 42 }),
                        line: "proto line".to_owned(),
                        structured_metadata: vec![LabelPairAdapter { name: "pod".to_owned(), value: "p-1".to_owned() }],
                    },
                    EntryAdapter {
                        timestamp: Some(Timestamp { seconds: 1_714_557_601, nanos: 0 }),
                        line: "second".to_owned(),
                        structured_metadata: vec![],
                    },
                ],
                hash: 0,
            }],
        }
    }

    #[tokio::test]
    async fn protobuf_snappy_push() {
        let sink = MemorySink::new();
        let app = router(sink.clone(), LokiConfig::default());
        let raw = push_request().encode_to_vec();
        let compressed = snap::raw::Encoder::new().compress_vec(&raw).unwrap();
        let (status, _) = send(&app, "application/x-protobuf", compressed).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let records = sink.records();
        assert_eq!(records.len(), 2);
        assert_eq!(records[0].labels, owned(&[("host", "h1"), ("job", "promtail"), ("msg", "tab\there éAA")]));
        assert_eq!(records[0].timestamp_nanos, 1_714_557_600_000_000_042);
        assert_eq!(records[0].doc["pod"], "p-1");
        assert_eq!(records[0].doc["message"], "proto line");
        assert_eq!(records[1].timestamp_nanos, 1_714_557_601_000_000_000);
        // Already-decompressed protobuf is accepted too.
        let (status, _) = send(&app, "application/x-protobuf", raw).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        assert_eq!(sink.records().len(), 4);
    }

    #[tokio::test]
    async fn protobuf_rejections() {
        let sink = MemorySink::new();
        let app = router(sink.clone(), LokiConfig { max_line_bytes: 8, ..LokiConfig::default() });
        let mut request = push_request();
        request.streams[0].labels = "{ab\"".to_owned();
        let body = snap::raw::Encoder::new().compress_vec(&request.encode_to_vec()).unwrap();
        let (status, text) = send(&app, "application/x-protobuf", body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(text.starts_with("Error parsing labels '{ab\"' with error: 1:4: parse error:"), "{text}");
        assert!(sink.records().is_empty());
        let mut request = push_request();
        request.streams[0].labels = "{a=\"b\"}".to_owned();
        let body = snap::raw::Encoder::new().compress_vec(&request.encode_to_vec()).unwrap();
        let (status, text) = send(&app, "application/x-protobuf", body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(
            text,
            "Max entry size '8' bytes exceeded for stream '{a=\"b\"}' while adding an entry with length '10' bytes\n"
        );
        assert_eq!(sink.records().len(), 1, "the short line was stored");
        let (status, text) = send(&app, "application/x-protobuf", b"\xff\xff garbage".to_vec()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(text.contains("snappy"), "{text}");
        sink.fail_with(Some("full"));
        let body = snap::raw::Encoder::new().compress_vec(&push_request().encode_to_vec()).unwrap();
        let (status, text) = send(&app, "application/x-protobuf", body).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(text.contains("full"));
    }

    #[test]
    fn label_parsing() {
        assert_eq!(parse_labels("{a=\"1\",b=\"2\",}").unwrap(), owned(&[("a", "1"), ("b", "2")]));
        assert_eq!(parse_labels(" { z = \"x\" , a=`raw\\n` } ").unwrap(), owned(&[("a", "raw\\n"), ("z", "x")]));
        let err = |s: &str| parse_labels(s).unwrap_err();
        assert_eq!(
            err("{ab\""),
            "Error parsing labels '{ab\"' with error: 1:4: parse error: unexpected character '\"', expected '='"
        );
        assert!(err("{a=\"b}").contains("unterminated quoted string"));
        assert!(err("{a=~\"b\"}").contains("only equality matchers"));
        assert!(err("{a!=\"b\"}").contains("only equality matchers"));
        assert!(err("a=\"b\"").contains("expected '{'"));
        assert!(err("{1a=\"b\"}").contains("expected a label name"));
        assert!(err("{a=\"\\q\"}").contains("invalid escape sequence"));
        assert!(err("{a=\"b\"} x").contains("unexpected input"));
        assert_eq!(err("{}"), "error at least one label pair is required per stream");
        assert_eq!(err("{a=\"\"}"), "error at least one label pair is required per stream");
        assert_eq!(err("{a=\"1\",a=\"2\"}"), "stream '{a=\"1\",a=\"2\"}' has duplicate label name: 'a'");
    }
}

// Pharos — ingest/src/loki_push.rs
